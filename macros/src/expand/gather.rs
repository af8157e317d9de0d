//! `gather!`: futures polled together on the current task.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, Ident};

use super::site::Site;
use super::{
    Cx, common_builders, count_builder, finish_each, finish_list, local, local1, timeout_builder,
};
use crate::ast::{Loop, Tasks};
use crate::options::GatherOptions;

/// `__FanoutGather::function`: a function of [`helpers`] (a two-segment path,
/// so that [`Site::exact_call`] can span it over the whole task).
fn helper(function: &str) -> TokenStream {
    let helper = Ident::new("__FanoutGather", Span::call_site());
    let function = Ident::new(function, Span::call_site());
    quote!(#helper::#function)
}

/// Local generic functions through which every use of a task's type goes.
///
/// `future` turns a task into its future behind an opaque `impl Future`: when
/// a task is not a future, its call is *the* error (`GatherTask`'s message,
/// on the task), and the opaque type keeps the rest of the expansion
/// well-typed instead of failing `Future` bounds again at every use. The
/// other functions exist so that each use is a call of a generic function
/// (never a type-relative path such as `Slot::new`, whose type segment would
/// be checked at its own span): rustc then checks the opaque type's bounds
/// at the span of the call, which [`Site::exact_call`] makes equal to the
/// task's, and reports them once.
fn helpers(cx: &Cx<'_, GatherOptions>, body: &Tasks) -> TokenStream {
    let rt = cx.rt();
    let helper = Ident::new("__FanoutGather", Span::call_site());
    // Only the functions this expansion calls: no `allow(dead_code)`, which
    // a crate that forbids dead code would refuse.
    let mut functions = if cx.options.spawn && is_stream(cx) {
        quote! {
            fn spawn_each<F: #rt::gather::GatherTask>(
                spawner: &#rt::gather::Spawner,
            ) -> impl ::core::ops::FnMut((#rt::WorkerName, F))
                -> #rt::gather::Spawned<<F as ::core::future::IntoFuture>::IntoFuture> + use<F>
            where
                F::IntoFuture: ::core::marker::Send + 'static,
                F::Output: ::core::marker::Send + 'static,
            {
                #rt::gather::Spawner::spawn_each(::core::clone::Clone::clone(spawner))
            }
        }
    } else if cx.options.spawn {
        quote! {
            fn spawn<F: #rt::gather::GatherTask>(
                spawner: &#rt::gather::Spawner,
                name: #rt::WorkerName,
                task: F,
            ) -> #rt::gather::Spawned<<F as ::core::future::IntoFuture>::IntoFuture>
            where
                F::IntoFuture: ::core::marker::Send + 'static,
                F::Output: ::core::marker::Send + 'static,
            {
                spawner.spawn(name, task)
            }
        }
    } else if loop_async_block(cx, body).is_some() {
        // The async closure's futures need no conversion.
        TokenStream::new()
    } else {
        quote! {
            fn future<F: #rt::gather::GatherTask>(task: F)
                -> impl ::core::future::Future<Output = <F as ::core::future::IntoFuture>::Output>
            {
                #rt::gather::future_of(task)
            }
        }
    };
    functions.extend(match body {
        Tasks::List(_) if cx.common.try_ => quote! {
            fn slot_try<F>(name: #rt::WorkerName, future: F)
                -> ::core::pin::Pin<::std::boxed::Box<#rt::gather::Slot<F>>>
            where
                F: ::core::future::Future,
                F::Output: #rt::gather::TryOutcome,
            {
                ::std::boxed::Box::pin(#rt::gather::Slot::new_try(name, future))
            }
        },
        Tasks::List(_) => quote! {
            fn slot<F: ::core::future::Future>(name: #rt::WorkerName, future: F)
                -> ::core::pin::Pin<::std::boxed::Box<#rt::gather::Slot<F>>>
            {
                ::std::boxed::Box::pin(#rt::gather::Slot::new(name, future))
            }
        },
        // A stream is returned, not awaited.
        _ if is_stream(cx) => TokenStream::new(),
        _ => quote! {
            fn boxed<F: ::core::future::Future>(future: F) -> ::core::pin::Pin<::std::boxed::Box<F>> {
                ::std::boxed::Box::pin(future)
            }
            fn poll<F: ::core::future::Future>(
                future: &mut ::core::pin::Pin<::std::boxed::Box<F>>,
                context: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<F::Output> {
                ::core::future::Future::poll(future.as_mut(), context)
            }
        },
    });
    if let Tasks::List(_) = body {
        functions.extend(quote! {
            fn as_mut<F: ::core::future::Future>(
                slot: &mut ::core::pin::Pin<::std::boxed::Box<#rt::gather::Slot<F>>>,
            ) -> ::core::pin::Pin<&mut #rt::gather::Slot<F>> {
                slot.as_mut()
            }
        });
    }
    quote! {
        struct #helper;
        impl #helper {
            #functions
        }
    }
}

/// Whether the gather returns a stream (`stream` or `unordered`) rather
/// than awaiting its outputs.
fn is_stream(cx: &Cx<'_, GatherOptions>) -> bool {
    cx.options.stream || cx.options.unordered
}

/// `race`'s value from its `RaceEnd`, by the `catch` and `try` options.
fn finish_race(cx: &Cx<'_, GatherOptions>, end: TokenStream) -> TokenStream {
    let rt = cx.rt();
    match (cx.common.catch, cx.common.try_) {
        (false, false) => quote!(#rt::outcome::race_output(#end)),
        (true, false) => quote!(#rt::outcome::race_caught(#end)),
        (false, true) => quote!(#rt::outcome::race_tried(#end)),
        (true, true) => cx.at_catch(quote!(#rt::outcome::race_tried_caught), end),
    }
}

/// The marker of what a stream yields, by the `catch` and `try` options.
fn yields(cx: &Cx<'_, GatherOptions>) -> TokenStream {
    let rt = cx.rt();
    let marker = match (cx.common.catch, cx.common.try_) {
        (false, false) => quote!(Outputs),
        (true, false) => quote!(Caught),
        (false, true) => quote!(Tried),
        (true, true) => quote!(TriedCaught),
    };
    quote!(#rt::gather::yields::#marker)
}

/// The loop form's task when it is an `async { }` block (not `async move`)
/// and the futures are not spawned: it becomes an async closure, whose
/// futures own the loop variables and borrow everything else, the DSL's rule.
/// (A spawned future must own everything, `'static`: there the block stays a
/// block, and the compiler's "may outlive" error suggests `async move`.)
fn loop_async_block<'a>(cx: &Cx<'_, GatherOptions>, body: &'a Tasks) -> Option<&'a syn::ExprAsync> {
    match body {
        Tasks::Loop(each) => match &each.task {
            Expr::Async(block) if block.capture.is_none() && !cx.options.spawn => Some(block),
            _ => None,
        },
        _ => None,
    }
}

/// `async |PAT| { ... }`, spanned like the user's `async { ... }`.
fn async_closure(pat: &syn::Pat, block: &syn::ExprAsync) -> TokenStream {
    let site = Site::of(block);
    let syn::ExprAsync {
        attrs,
        async_token,
        block,
        ..
    } = block;
    let closure = site.closure_around(quote!(#pat), quote!(#block));
    quote!(#(#attrs)* #async_token #closure)
}

/// The future of a task, or a spawned Tokio task with `spawn`; located at
/// the task, so that "not a future" or "cannot be sent between threads
/// safely" is reported there.
fn future_of(cx: &Cx<'_, GatherOptions>, task: &Expr, name: &TokenStream) -> TokenStream {
    let site = Site::of(task);
    let task = match task {
        // Refused by validation ("gather! takes futures, not closures"); the
        // best-effort expansion calls it, which is what the user meant.
        Expr::Closure(closure) if closure.inputs.is_empty() => quote!((#closure)()),
        _ => quote!(#task),
    };
    if cx.options.spawn {
        let spawner = local1("spawner");
        site.exact_call(helper("spawn"), quote!(&#spawner, #name, #task))
    } else {
        site.exact_call(helper("future"), task)
    }
}

pub fn expand(cx: &Cx<'_, GatherOptions>, body: &Tasks) -> TokenStream {
    let rt = cx.rt();
    let opts = local1("options");
    let mut builders = common_builders(cx);
    builders.extend(timeout_builder(&cx.options.timeout));
    builders.extend(count_builder("limit", &cx.options.limit));
    builders.extend(count_builder("buffer", &cx.options.buffer));
    let helpers = helpers(cx, body);
    let mut setup = quote! {
        #helpers
        let #opts = #rt::gather::GatherOptions::new() #builders;
    };
    // With `spawn`, the futures are spawned as the gather starts them, and
    // the tasks aborted when it ends early are awaited before the macro
    // returns: the gather's futures live in a block of their own, which has
    // dropped (aborted) them all when `join_aborted` runs.
    let spawner = local1("spawner");
    let join_aborted = if cx.options.spawn {
        setup.extend(quote!(let #spawner = #rt::gather::Spawner::current();));
        quote!(#spawner.join_aborted().await;)
    } else {
        TokenStream::new()
    };
    match body {
        Tasks::List(tasks) => {
            let group = local1("group");
            let context = local1("context");
            let sites: Vec<Site> = tasks.iter().map(Site::of).collect();
            // The slots are named with their task's own span: a method call on
            // them can then be spanned exactly like the task (see below).
            let slots: Vec<Ident> = sites
                .iter()
                .enumerate()
                .map(|(k, site)| Ident::new(&format!("__fanout_slot{k}"), site.last()))
                .collect();
            let outcomes: Vec<_> = (0..tasks.len()).map(|k| local("outcome", k)).collect();
            let new_slot = helper(if cx.common.try_ { "slot_try" } else { "slot" });
            // Everything that uses a task's type is spanned exactly like the
            // task: rustc reports an unmet bound once per span, so a task that
            // is not a future gives one error, not one per use. (Slots are
            // pinned with `Box::pin` rather than `pin!`, whose own tokens
            // would have other spans; a fixed list has few tasks.)
            let pins = tasks
                .iter()
                .zip(&slots)
                .zip(&sites)
                .map(|((task, slot), site)| {
                    let name = cx.worker_name(task);
                    let future = future_of(cx, task, &name);
                    let pinned = site.exact_call(new_slot.clone(), quote!(#name, #future));
                    quote!(let mut #slot = #pinned;)
                });
            let as_mut = |slot: &Ident, site: &Site| {
                let borrow = site.at_first(quote!(&mut));
                site.exact_call(helper("as_mut"), quote!(#borrow #slot))
            };
            let pinned: Vec<TokenStream> = slots
                .iter()
                .zip(&sites)
                .map(|(s, site)| as_mut(s, site))
                .collect();
            let takes = outcomes
                .iter()
                .zip(&slots)
                .zip(&sites)
                .map(|((outcome, slot), site)| {
                    let slot = as_mut(slot, site);
                    let take =
                        site.exact_call(quote!(#rt::gather::Group::take), quote!(&#group, #slot));
                    quote!(let #outcome = #take;)
                });
            if cx.options.race {
                let winner = local1("winner");
                // Each outcome in the array is located at its task, so that
                // a task of another output type is the one blamed.
                let located = outcomes.iter().zip(&sites).map(|(outcome, site)| {
                    let mut outcome = outcome.clone();
                    outcome.set_span(outcome.span().located_at(site.first()));
                    outcome
                });
                let end = quote!(#rt::outcome::RaceEnd::of_list(#winner, [#(#located),*]));
                let finish = finish_race(cx, end);
                return quote! {{
                    #setup
                    let (#winner, #(#outcomes,)*) = {
                        let mut #group = #rt::gather::Group::new(&#opts);
                        #(#pins)*
                        let #winner = ::core::future::poll_fn(|#context| #group.poll_race(#context, &mut [#(#pinned),*])).await;
                        #(#takes)*
                        (#winner, #(#outcomes,)*)
                    };
                    #join_aborted
                    #finish
                }};
            }
            let finish = finish_list(cx, &outcomes);
            let run = quote! {
                let mut #group = #rt::gather::Group::new(&#opts);
                #(#pins)*
                ::core::future::poll_fn(|#context| #group.poll(#context, &mut [#(#pinned),*])).await;
                #(#takes)*
            };
            if cx.options.spawn {
                quote! {{
                    #setup
                    let (#(#outcomes,)*) = {
                        #run
                        (#(#outcomes,)*)
                    };
                    #join_aborted
                    #finish
                }}
            } else {
                quote! {{
                    #setup
                    #run
                    #finish
                }}
            }
        }
        Tasks::Loop(each) => {
            let Loop {
                pat, iter, task, ..
            } = &**each;
            let name = cx.worker_name(task);
            let index = local1("index");
            let indexed = quote!(#name.with_index(#index));
            // As in the list form, every use of the task's type is spanned
            // exactly like the task, so a task that is not a future is one error.
            let site = Site::of(task);
            let iter = quote!(::core::iter::IntoIterator::into_iter(#iter));
            // Only spawned tasks need their index (to name the Tokio task).
            let (items, params) = if cx.options.spawn {
                (
                    quote!(::core::iter::Iterator::enumerate(#iter)),
                    quote!((#index, #pat)),
                )
            } else {
                (iter, quote!(#pat))
            };
            let futures = if cx.options.spawn && is_stream(cx) {
                // The stream outlives this block: each future is spawned by
                // a function that owns a clone of the spawner.
                let task = match task {
                    Expr::Closure(closure) if closure.inputs.is_empty() => quote!((#closure)()),
                    _ => quote!(#task),
                };
                let named = site.closure_around(params, quote!((#indexed, #task)));
                let named =
                    site.exact_call(quote!(::core::iter::Iterator::map), quote!(#items, #named));
                let spawner = local1("spawner");
                let spawn_each = site.exact_call(helper("spawn_each"), quote!(&#spawner));
                site.exact_call(
                    quote!(::core::iter::Iterator::map),
                    quote!(#named, #spawn_each),
                )
            } else {
                let closure = match loop_async_block(cx, body) {
                    Some(block) => async_closure(pat, block),
                    None => site.closure_around(params, future_of(cx, task, &indexed)),
                };
                site.exact_call(
                    quote!(::core::iter::Iterator::map),
                    quote!(#items, #closure),
                )
            };
            if is_stream(cx) {
                let function = if cx.options.stream {
                    quote!(stream_in_order)
                } else {
                    quote!(stream_unordered)
                };
                let yields = yields(cx);
                let stream = site.exact_call(
                    quote!(#rt::gather::#function),
                    quote!(#opts, #name, #futures, #yields),
                );
                let stream = if cx.options.spawn {
                    quote!(#stream.joining(#spawner))
                } else {
                    stream
                };
                return quote! {{
                    #setup
                    #stream
                }};
            }
            let race = cx.options.race;
            let function = match (race, cx.common.try_) {
                (true, true) => quote!(try_race_each),
                (true, false) => quote!(race_each),
                (false, true) => quote!(try_gather_each),
                (false, false) => quote!(gather_each),
            };
            // Without `catch` or `try`, the outputs alone (no `Result` per
            // future).
            let outputs_only = !cx.common.catch && !cx.common.try_ && !race;
            let function = if outputs_only {
                quote!(gather_outputs)
            } else {
                function
            };
            let gather = site.exact_call(
                quote!(#rt::gather::#function),
                quote!(&#opts, #name, #futures),
            );
            // Awaited through `poll_fn`: `.await` on the gather's own future
            // would check its type (which holds the task's) at the `await`
            // keyword, a span of its own, and report a non-future task twice.
            let boxed = site.exact_call(helper("boxed"), gather);
            let each = Ident::new("__fanout_each", site.last());
            let context = local1("context");
            let borrow = site.at_first(quote!(&mut));
            let poll = site.exact_call(helper("poll"), quote!(#borrow #each, #context));
            let awaited = quote!(::core::future::poll_fn(|#context| #poll).await);
            let finish = |awaited: TokenStream| {
                if race {
                    finish_race(cx, awaited)
                } else if outputs_only {
                    quote! {
                    match #awaited {
                        ::core::result::Result::Ok(outputs) => outputs,
                        ::core::result::Result::Err(failures) => #rt::outcome::raise(
                            ::core::iter::Iterator::map(
                                ::core::iter::IntoIterator::into_iter(failures),
                                ::core::option::Option::Some,
                            ),
                        ),
                    }
                    }
                } else {
                    finish_each(cx, awaited)
                }
            };
            if cx.options.spawn {
                let outcome = local1("outcome");
                let finish_outcome = finish(quote!(#outcome));
                quote! {{
                    #setup
                    let #outcome = {
                        let mut #each = #boxed;
                        #awaited
                    };
                    #join_aborted
                    #finish_outcome
                }}
            } else {
                let finish = finish(awaited);
                quote! {{
                    #setup
                    let mut #each = #boxed;
                    #finish
                }}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The expansions of `stream`, `unordered` and `race`, on tokens.

    use proc_macro2::TokenStream;
    use quote::quote;

    use crate::entry;
    use crate::kind::MacroKind::Gather;

    fn expand(input: TokenStream) -> String {
        entry(Gather, quote!([::fanout] #input)).to_string()
    }

    #[test]
    fn stream_and_unordered_return_a_stream_of_the_right_items() {
        let out = expand(quote!(for url in &urls => fetch(&client, url); stream, limit = 8));
        assert!(out.contains("gather :: stream_in_order"), "{out}");
        assert!(out.contains("yields :: Outputs"), "{out}");
        assert!(out.contains(". limit ("), "{out}");
        // Returned, not awaited.
        assert!(!out.contains(". await"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");

        let out = expand(quote!(for i in 0.. => work(i); unordered, try, catch, buffer = 4));
        assert!(out.contains("gather :: stream_unordered"), "{out}");
        assert!(out.contains("yields :: TriedCaught"), "{out}");
        assert!(out.contains(". buffer ("), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn a_spawned_stream_owns_its_spawner() {
        let out = expand(quote!(for i in 0.. => work(i); stream, spawn, catch));
        assert!(out.contains("spawn_each"), "{out}");
        assert!(out.contains(". joining (__fanout_spawner)"), "{out}");
        assert!(out.contains("yields :: Caught"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn race_polls_until_a_winner_and_finishes_by_mode() {
        let out = expand(quote!(mirror_a(), mirror_b(); race));
        assert!(out.contains("poll_race"), "{out}");
        assert!(out.contains("RaceEnd :: of_list"), "{out}");
        assert!(out.contains("race_output"), "{out}");

        let out = expand(quote!(for m in mirrors => fetch(m); race, try, spawn));
        assert!(out.contains("try_race_each"), "{out}");
        assert!(out.contains("race_tried"), "{out}");
        assert!(out.contains("join_aborted"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");

        let out = expand(quote!(a(), b(); race, catch));
        assert!(out.contains("race_caught"), "{out}");
    }

    #[test]
    fn options_that_do_not_go_together_are_refused() {
        let refused = |input: TokenStream, expected: &str| {
            let out = expand(input);
            assert!(out.contains("compile_error"), "{out}");
            assert!(out.contains(expected), "{expected}: {out}");
        };
        refused(
            quote!(for i in 0..9 => f(i); buffer = 2),
            "`buffer` bounds how many items",
        );
        refused(
            quote!(for i in 0..9 => f(i); stream, unordered),
            "choose one",
        );
        refused(
            quote!(for i in 0..9 => f(i); unordered, race),
            "`race` returns",
        );
        refused(
            quote!(f(0), f(1); stream),
            "yields the outputs of the loop form",
        );
        refused(
            quote!(for i in 0..9 => f(i); stream, timeout = d),
            "`timeout` is not available with `stream`",
        );
    }
}
