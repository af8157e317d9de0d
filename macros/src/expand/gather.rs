//! `gather!`: futures polled together on the current task.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{
    Cx, common_builders, count_builder, finish_each, finish_list, local, local1, timeout_builder,
};
use crate::ast::Body;

/// `IntoFuture::into_future(task)`, or a spawned Tokio task with `spawn`;
/// checked at the task's own span.
fn future_of(cx: &Cx<'_>, task: &Expr, name: &TokenStream) -> TokenStream {
    let span = task.span();
    let rt = cx.rt_at(span);
    if cx.options.spawn {
        quote_spanned!(span=> #rt::gather::spawn(#name, #rt::gather::future_of(#task)))
    } else {
        quote_spanned!(span=> #rt::gather::future_of(#task))
    }
}

pub fn expand(cx: &Cx<'_>, body: &Body) -> TokenStream {
    let rt = cx.rt();
    let opts = local1("options");
    let mut builders = common_builders(cx);
    builders.extend(timeout_builder(cx));
    builders.extend(count_builder("limit", &cx.options.limit));
    let setup = quote!(let #opts = #rt::gather::GatherOptions::new() #builders;);
    match body {
        Body::List(tasks) => {
            let group = local1("group");
            let context = local1("context");
            let slots: Vec<_> = (0..tasks.len()).map(|k| local("slot", k)).collect();
            let outcomes: Vec<_> = (0..tasks.len()).map(|k| local("outcome", k)).collect();
            let new = if cx.options.try_ {
                quote!(new_try)
            } else {
                quote!(new)
            };
            let pins = tasks.iter().zip(&slots).map(|(task, slot)| {
                let name = cx.worker_name(task);
                let future = future_of(cx, task, &name);
                quote! {
                    let mut #slot = ::core::pin::pin!(#rt::gather::Slot::#new(#name, #future));
                }
            });
            let finish = finish_list(cx, &outcomes);
            quote! {{
                #setup
                let mut #group = #rt::gather::Group::new(&#opts);
                #(#pins)*
                ::core::future::poll_fn(|#context| #group.poll(#context, &mut [#(#slots.as_mut()),*])).await;
                #(let #outcomes = #group.take(#slots.as_mut());)*
                #finish
            }}
        }
        Body::Loop { pat, iter, task } => {
            let base = cx.base_name(task);
            let name = quote!(#rt::WorkerName::new(#base));
            let index = local1("index");
            let indexed = quote!(#name.with_index(#index));
            let future = future_of(cx, task, &indexed);
            // Only spawned tasks need their index (to name the Tokio task).
            let futures = if cx.options.spawn {
                quote! {
                    ::core::iter::Iterator::map(
                        ::core::iter::Iterator::enumerate(::core::iter::IntoIterator::into_iter(#iter)),
                        |(#index, #pat)| #future,
                    )
                }
            } else {
                quote!(::core::iter::Iterator::map(::core::iter::IntoIterator::into_iter(#iter), |#pat| #future))
            };
            let function = if cx.options.try_ {
                quote!(try_gather_each)
            } else {
                quote!(gather_each)
            };
            let finish = if cx.options.catch || cx.options.try_ {
                let each = quote! {
                    #rt::gather::#function(
                        &#opts,
                        #name,
                        #futures,
                    ).await
                };
                finish_each(cx, each)
            } else {
                // The outputs alone, without a `Result` per future.
                quote! {
                    match #rt::gather::gather_outputs(&#opts, #name, #futures).await {
                        ::core::result::Result::Ok(outputs) => outputs,
                        ::core::result::Result::Err(failures) => #rt::outcome::raise(
                            ::core::iter::Iterator::map(
                                ::core::iter::IntoIterator::into_iter(failures),
                                ::core::option::Option::Some,
                            ),
                        ),
                    }
                }
            };
            quote! {{
                #setup
                #finish
            }}
        }
        Body::Map { .. } | Body::Broken => quote!(::core::panic!("fanout: invalid macro input")),
    }
}
