// pool_map!(square, 0..10; catch)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new();
            #[allow(unused_imports)]
            use __fanout_rt::pool::{SelectIndexed as _, SelectSequential as _};
            (&&__fanout_rt::pool::Items::new(0..10))
                .pool_select()
                .map(&__fanout_options, __fanout_rt::WorkerName::new("square"), square)
        }
    };
}
