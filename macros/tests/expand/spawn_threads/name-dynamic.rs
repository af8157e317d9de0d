// spawn_threads!(print_numbers, || data.len(); name = format!("req-{id}"))
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        let __fanout_name = __fanout_rt::WorkerName::dynamic(&(format!("req-{id}")));
        {
            let __fanout_options = __fanout_rt::threads::ThreadOptions::new();
            let (__fanout_outcome0, __fanout_outcome1) = __fanout_rt::threads::scope(
                &__fanout_options,
                |__fanout_scope| {
                    let __fanout_worker0 = __fanout_rt::threads::Scope::spawn(
                        __fanout_scope,
                        ::core::clone::Clone::clone(&__fanout_name),
                        print_numbers,
                    );
                    let __fanout_worker1 = __fanout_rt::threads::Scope::spawn(
                        __fanout_scope,
                        ::core::clone::Clone::clone(&__fanout_name),
                        || data.len(),
                    );
                    (
                        __fanout_rt::threads::ThreadHandle::join(
                            ::core::convert::identity(__fanout_worker0),
                        ),
                        __fanout_rt::threads::ThreadHandle::join(
                            ::core::convert::identity(__fanout_worker1),
                        ),
                    )
                },
            );
            use __fanout_rt::unpolled::autoref::*;
            (&&&__fanout_rt::unpolled::Output::of(&__fanout_outcome0)).check_unpolled();
            (&&&__fanout_rt::unpolled::Output::of(&__fanout_outcome1)).check_unpolled();
            match (__fanout_outcome0, __fanout_outcome1) {
                (
                    ::core::result::Result::Ok(__fanout_v0),
                    ::core::result::Result::Ok(__fanout_v1),
                ) => (__fanout_v0, __fanout_v1),
                (__fanout_outcome0, __fanout_outcome1) => {
                    __fanout_rt::outcome::raise([
                        __fanout_outcome0.err(),
                        __fanout_outcome1.err(),
                    ])
                }
            }
        }
    };
}
