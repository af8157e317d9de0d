// pool_map!(square, 0..10; processes, workers = 2, chunksize = 100)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new()
                .workers({
                    let count: usize = 2;
                    count
                })
                .chunksize({
                    let count: usize = 100;
                    count
                });
            #[allow(unused_imports)]
            use __fanout_rt::process::{SelectCollected as _, SelectRange as _};
            (&&__fanout_rt::process::Items::new(0..10))
                .process_select()
                .map_unwrap(
                    &__fanout_options,
                    __fanout_rt::WorkerName::new("square"),
                    square,
                )
        }
    };
}
