// spawn_processes!(for i in 0..5 => worker(i))
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::process::ProcessOptions::new();
            let __fanout_outcomes = __fanout_rt::process::spawn_each(
                &__fanout_options,
                __fanout_rt::WorkerName::new("worker"),
                0..5,
                |i| ::core::convert::identity(worker(i)),
            );
            __fanout_rt::outcome::unwrap_all(__fanout_outcomes)
        }
    };
}
