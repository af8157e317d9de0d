// pool_map!(parse, texts; try)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new();
            #[allow(unused_imports)]
            use __fanout_rt::pool::{SelectIndexed as _, SelectSequential as _};
            __fanout_rt::outcome::try_all(
                (&&__fanout_rt::pool::Items::new(texts))
                    .pool_select()
                    .try_map(
                        &__fanout_options,
                        __fanout_rt::WorkerName::new("parse"),
                        parse,
                    ),
            )
        }
    };
}
