// gather!(task1(), task2(); try)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            struct __FanoutGather;
            impl __FanoutGather {
                fn future<F: __fanout_rt::gather::GatherTask>(
                    task: F,
                ) -> impl ::core::future::Future<
                    Output = <F as ::core::future::IntoFuture>::Output,
                > {
                    __fanout_rt::gather::future_of(task)
                }
                fn slot_try<F>(
                    name: __fanout_rt::WorkerName,
                    future: F,
                ) -> ::core::pin::Pin<::std::boxed::Box<__fanout_rt::gather::Slot<F>>>
                where
                    F: ::core::future::Future,
                    F::Output: __fanout_rt::gather::TryOutcome,
                {
                    ::std::boxed::Box::pin(
                        __fanout_rt::gather::Slot::new_try(name, future),
                    )
                }
                fn as_mut<F: ::core::future::Future>(
                    slot: &mut ::core::pin::Pin<
                        ::std::boxed::Box<__fanout_rt::gather::Slot<F>>,
                    >,
                ) -> ::core::pin::Pin<&mut __fanout_rt::gather::Slot<F>> {
                    slot.as_mut()
                }
            }
            let __fanout_options = __fanout_rt::gather::GatherOptions::new();
            let mut __fanout_group = __fanout_rt::gather::Group::new(&__fanout_options);
            let mut __fanout_slot0 = __FanoutGather::slot_try(
                __fanout_rt::WorkerName::new("task1"),
                __FanoutGather::future(task1()),
            );
            let mut __fanout_slot1 = __FanoutGather::slot_try(
                __fanout_rt::WorkerName::new("task2"),
                __FanoutGather::future(task2()),
            );
            ::core::future::poll_fn(|__fanout_context| {
                    __fanout_group
                        .poll(
                            __fanout_context,
                            &mut [
                                __FanoutGather::as_mut(&mut __fanout_slot0),
                                __FanoutGather::as_mut(&mut __fanout_slot1),
                            ],
                        )
                })
                .await;
            let __fanout_outcome0 = __fanout_rt::gather::Group::take(
                &__fanout_group,
                __FanoutGather::as_mut(&mut __fanout_slot0),
            );
            let __fanout_outcome1 = __fanout_rt::gather::Group::take(
                &__fanout_group,
                __FanoutGather::as_mut(&mut __fanout_slot1),
            );
            match (__fanout_outcome0, __fanout_outcome1) {
                (
                    ::core::result::Result::Ok(::core::result::Result::Ok(__fanout_v0)),
                    ::core::result::Result::Ok(::core::result::Result::Ok(__fanout_v1)),
                ) => ::core::result::Result::Ok((__fanout_v0, __fanout_v1)),
                (__fanout_outcome0, __fanout_outcome1) => {
                    ::core::result::Result::Err(
                        __fanout_rt::outcome::try_error([
                            __fanout_rt::outcome::erase(__fanout_outcome0),
                            __fanout_rt::outcome::erase(__fanout_outcome1),
                        ]),
                    )
                }
            }
        }
    };
}
