// gather!(for url in urls => fetch(&client, url); limit = 2)
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
            let __fanout_options = __fanout_rt::gather::GatherOptions::new()
                .limit({
                    let count: usize = 2;
                    count
                });
            let mut __fanout_each = __FanoutGather::boxed(
                __fanout_rt::gather::gather_outputs(
                    &__fanout_options,
                    __fanout_rt::WorkerName::new("fetch"),
                    ::core::iter::Iterator::map(
                        ::core::iter::IntoIterator::into_iter(urls),
                        |url| __FanoutGather::future(fetch(&client, url)),
                    ),
                ),
            );
            match ::core::future::poll_fn(|__fanout_context| __FanoutGather::poll(
                    &mut __fanout_each,
                    __fanout_context,
                ))
                .await
            {
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
