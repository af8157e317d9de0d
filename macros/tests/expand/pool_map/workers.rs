// pool_map!(|w: &&str| w.len(), &words; workers = 4)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new()
                .workers({
                    let count: usize = 4;
                    count
                });
            #[allow(unused_imports)]
            use __fanout_rt::pool::{SelectIndexed as _, SelectSequential as _};
            (&&__fanout_rt::pool::Items::new(&words))
                .pool_select()
                .map_unwrap(
                    &__fanout_options,
                    __fanout_rt::WorkerName::new("task"),
                    |w: &&str| w.len(),
                )
        }
    };
}
