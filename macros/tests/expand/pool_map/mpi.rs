// pool_map!(square, 0..10; mpi)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new();
            __fanout_rt::map::on_mpi(
                &__fanout_options,
                __fanout_rt::map::Unwrap,
                __fanout_rt::WorkerName::new("square"),
                0..10,
                square,
            )
        }
    };
}
