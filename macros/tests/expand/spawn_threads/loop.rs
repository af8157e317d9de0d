// spawn_threads!(for i in 0..5 => worker(i))
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::threads::ThreadOptions::new();
            let __fanout_outcomes = __fanout_rt::threads::spawn_each(
                &__fanout_options,
                __fanout_rt::WorkerName::new("worker"),
                0..5,
                |i| ::core::convert::identity(worker(i)),
            );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of_each(&__fanout_outcomes))
                .check_unpolled();
            __fanout_rt::outcome::unwrap_all(__fanout_outcomes)
        }
    };
}
