// pool_map!(square, 0..10; timeout = Duration::from_secs(1))
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new()
                .timeout({
                    let timeout: ::core::time::Duration = Duration::from_secs(1);
                    timeout
                });
            use __fanout_rt::map::autoref::*;
            let __fanout_outputs = (&&__fanout_rt::map::Items::new(0..10))
                .select()
                .on_threads(
                    &__fanout_options,
                    __fanout_rt::map::Unwrap,
                    __fanout_rt::WorkerName::new("square"),
                    square,
                );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of_outputs(&__fanout_outputs))
                .check_unpolled();
            __fanout_outputs
        }
    };
}
