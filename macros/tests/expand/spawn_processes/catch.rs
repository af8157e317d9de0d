// spawn_processes!(print_numbers, worker(3); catch)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            let __fanout_options = __fanout_rt::process::ProcessOptions::new();
            let (__fanout_outcome0, __fanout_outcome1) = __fanout_rt::process::scope(
                &__fanout_options,
                |__fanout_scope| {
                    let __fanout_worker0 = __fanout_rt::process::Scope::spawn(
                        __fanout_scope,
                        __fanout_rt::WorkerName::new("print_numbers"),
                        print_numbers,
                    );
                    let __fanout_worker1 = __fanout_rt::process::Scope::spawn(
                        __fanout_scope,
                        __fanout_rt::WorkerName::new("worker"),
                        || worker(3),
                    );
                    (
                        __fanout_rt::process::ChildHandle::join(
                            ::core::convert::identity(__fanout_worker0),
                        ),
                        __fanout_rt::process::ChildHandle::join(
                            ::core::convert::identity(__fanout_worker1),
                        ),
                    )
                },
            );
            (__fanout_outcome0, __fanout_outcome1)
        }
    };
}
