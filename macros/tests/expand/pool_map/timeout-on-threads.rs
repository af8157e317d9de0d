// pool_map!(square, 0..10; timeout = Duration::from_secs(1))
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new()
                .timeout({
                    let timeout: ::core::time::Duration = Duration::from_secs(1);
                    timeout
                });
            #[allow(unused_imports)]
            use __fanout_rt::pool::{SelectIndexed as _, SelectSequential as _};
            (&&__fanout_rt::pool::Items::new(0..10))
                .pool_select()
                .map_unwrap(
                    &__fanout_options,
                    __fanout_rt::WorkerName::new("square"),
                    square,
                )
        }
    };
}
