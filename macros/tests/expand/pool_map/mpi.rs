// pool_map!(square, 0..10; mpi)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::pool::PoolOptions::new();
            __fanout_rt::mpi::map_unwrap(
                &__fanout_options,
                __fanout_rt::WorkerName::new("square"),
                0..10,
                square,
            )
        }
    };
}
