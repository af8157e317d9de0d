// spawn_threads!(for s in texts => parse(s); try, catch)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::threads::ThreadOptions::new();
            let __fanout_outcomes = __fanout_rt::threads::spawn_each(
                &__fanout_options,
                __fanout_rt::WorkerName::new("parse"),
                texts,
                |s| ::core::convert::identity(parse(s)),
            );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of_each(&__fanout_outcomes))
                .check_unpolled();
            {
                let __fanout_caught = __fanout_outcomes;
                __fanout_rt::outcome::try_catch_all(__fanout_caught)
            }
        }
    };
}
