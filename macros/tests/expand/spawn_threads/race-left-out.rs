// spawn_threads!(for i in 0..5 => total += i)
fn main() {
    let _ = {
        ::core::compile_error! {
            "the tasks of the loop form all run at the same time: `total += ...` from each of them would be a data race on `total`. Return the value instead and combine the outputs, which come back in order: `spawn_threads!(for i in items => work(i)).iter().sum()`; or share an atomic (`AtomicUsize::fetch_add`) or a `Mutex`"
        }
        let _ = || {};
        {
            use ::fanout::__private as __fanout_rt;
            {
                let __fanout_options = __fanout_rt::threads::ThreadOptions::new();
                let __fanout_outcomes = __fanout_rt::threads::spawn_each(
                    &__fanout_options,
                    __fanout_rt::WorkerName::new("task"),
                    0..5,
                    |i| {
                        {
                            let _ = (&total, i);
                        }
                    },
                );
                use __fanout_rt::unpolled::autoref::*;
                (&&&__fanout_rt::unpolled::Output::of_each(&__fanout_outcomes))
                    .check_unpolled();
                __fanout_rt::outcome::unwrap_all(__fanout_outcomes)
            }
        }
    };
}
