// gather!(for i in 0..5 => fetch(i); spawn)
fn main() {
    let _ = {
        use ::fanout::__private as __fanout_rt;
        {
            struct __FanoutGather;
            impl __FanoutGather {
                fn spawn<F: __fanout_rt::gather::GatherTask>(
                    spawner: &__fanout_rt::gather::Spawner,
                    name: __fanout_rt::WorkerName,
                    task: F,
                ) -> __fanout_rt::gather::Spawned<
                    <F as ::core::future::IntoFuture>::IntoFuture,
                >
                where
                    F::IntoFuture: ::core::marker::Send + 'static,
                    F::Output: ::core::marker::Send + 'static,
                {
                    spawner.spawn(name, task)
                }
                fn boxed<F: ::core::future::Future>(
                    future: F,
                ) -> ::core::pin::Pin<::std::boxed::Box<F>> {
                    ::std::boxed::Box::pin(future)
                }
                fn poll<F: ::core::future::Future>(
                    future: &mut ::core::pin::Pin<::std::boxed::Box<F>>,
                    context: &mut ::core::task::Context<'_>,
                ) -> ::core::task::Poll<F::Output> {
                    ::core::future::Future::poll(future.as_mut(), context)
                }
            }
            let __fanout_options = __fanout_rt::gather::GatherOptions::new();
            let __fanout_spawner = __fanout_rt::gather::Spawner::current();
            let __fanout_outcome = {
                let mut __fanout_each = __FanoutGather::boxed(
                    __fanout_rt::gather::gather_outputs(
                        &__fanout_options,
                        __fanout_rt::WorkerName::new("fetch"),
                        ::core::iter::Iterator::map(
                            ::core::iter::Iterator::enumerate(
                                ::core::iter::IntoIterator::into_iter(0..5),
                            ),
                            |(__fanout_index, i)| __FanoutGather::spawn(
                                &__fanout_spawner,
                                __fanout_rt::WorkerName::new("fetch")
                                    .with_index(__fanout_index),
                                fetch(i),
                            ),
                        ),
                    ),
                );
                ::core::future::poll_fn(|__fanout_context| __FanoutGather::poll(
                        &mut __fanout_each,
                        __fanout_context,
                    ))
                    .await
            };
            __fanout_spawner.join_aborted().await;
            match __fanout_outcome {
                ::core::result::Result::Ok(outputs) => outputs,
                ::core::result::Result::Err(failures) => {
                    __fanout_rt::outcome::raise(
                        ::core::iter::Iterator::map(
                            ::core::iter::IntoIterator::into_iter(failures),
                            ::core::option::Option::Some,
                        ),
                    )
                }
            }
        }
    };
}
