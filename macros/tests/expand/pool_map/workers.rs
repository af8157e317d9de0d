// pool_map!(|w: &&str| w.len(), &words; workers = 4)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new()
                .workers({
                    let count: usize = 4;
                    count
                });
            use __fanout_rt::map::autoref::*;
            let __fanout_outputs = (&&__fanout_rt::map::Items::new(&words))
                .select()
                .on_threads(
                    &__fanout_options,
                    __fanout_rt::map::Unwrap,
                    __fanout_rt::WorkerName::new("task"),
                    |w: &&str| w.len(),
                );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of_outputs(&__fanout_outputs))
                .check_unpolled();
            __fanout_outputs
        }
    };
}
