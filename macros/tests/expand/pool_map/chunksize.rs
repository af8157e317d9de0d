// pool_map!(square, 0..10; processes, workers = 2, chunksize = 100)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new()
                .workers({
                    let count: usize = 2;
                    count
                })
                .chunksize({
                    let count: usize = 100;
                    count
                });
            use __fanout_rt::map::autoref::*;
            (&&__fanout_rt::map::Items::new(0..10))
                .select()
                .on_processes(
                    &__fanout_options,
                    __fanout_rt::map::Unwrap,
                    __fanout_rt::WorkerName::new("square"),
                    square,
                )
        }
    };
}
