// spawn_processes!(counter += 1, fill(&mut buf))
fn main() {
    let _ = {
        ::core::compile_error! {
            "`counter += ...` runs in a child process, which writes to its own copy of `counter`: the copy is lost when the child exits, and the caller's `counter` does not change. Return the value instead and let the caller write it: `let value = spawn_processes!(work()); counter += value;`"
        }
        ::core::compile_error! {
            "`&mut buf` runs in a child process, where it borrows the child's own copy of `buf`, and what is written through it goes to that copy: the copy is lost when the child exits, and the caller's `buf` does not change. Return the value instead and let the caller write it: `let value = spawn_processes!(work()); buf = value;`"
        }
        let _ = || {};
        {
            use ::fanout::__private as __fanout_rt;
            {
                let __fanout_options = __fanout_rt::process::ProcessOptions::new();
                let (__fanout_outcome0, __fanout_outcome1) = __fanout_rt::process::scope(
                    &__fanout_options,
                    |__fanout_scope| {
                        let __fanout_worker0 = __fanout_rt::process::Scope::spawn(
                            __fanout_scope,
                            __fanout_rt::WorkerName::new("task"),
                            || {
                                let _ = (&counter, 1);
                            },
                        );
                        let __fanout_worker1 = __fanout_rt::process::Scope::spawn(
                            __fanout_scope,
                            __fanout_rt::WorkerName::new("fill"),
                            || fill({
                                fn __fanout_own_copy<T: ?::core::marker::Sized>(
                                    _: &T,
                                ) -> &mut T {
                                    ::core::panic!(
                                        "fanout: a write that a child process cannot send back"
                                    )
                                }
                                __fanout_own_copy(&buf)
                            }),
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
        }
    };
}
