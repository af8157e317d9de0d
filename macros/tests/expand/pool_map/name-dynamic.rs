// pool_map!(square, 0..10; name = who.as_str())
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        let __fanout_name = __fanout_rt::WorkerName::dynamic(&(who.as_str()));
        {
            let __fanout_options = __fanout_rt::map::MapOptions::new();
            use __fanout_rt::map::autoref::*;
            let __fanout_outputs = (&&__fanout_rt::map::Items::new(0..10))
                .select()
                .on_threads(
                    &__fanout_options,
                    __fanout_rt::map::Unwrap,
                    ::core::clone::Clone::clone(&__fanout_name),
                    square,
                );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of_outputs(&__fanout_outputs))
                .check_unpolled();
            __fanout_outputs
        }
    };
}
