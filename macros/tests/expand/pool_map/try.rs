// pool_map!(parse, texts; try)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new();
            use __fanout_rt::map::autoref::*;
            (&&__fanout_rt::map::Items::new(texts))
                .select()
                .on_threads(
                    &__fanout_options,
                    __fanout_rt::map::Try,
                    __fanout_rt::WorkerName::new("parse"),
                    parse,
                )
        }
    };
}
