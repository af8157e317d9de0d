//! `spawn_threads!` and `spawn_processes!`: one worker per task, in a scope
//! that joins (or reaps) every worker before it returns.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Cx, common_builders, finish_each, finish_list, local, local1, task_body, timeout_builder,
};
use crate::ast::{Body, MacroKind};

pub fn expand(cx: &Cx<'_>, body: &Body) -> TokenStream {
    let rt = cx.rt();
    let (module, options_type) = match cx.kind {
        MacroKind::Processes => (quote!(process), quote!(ProcessOptions)),
        _ => (quote!(threads), quote!(ThreadOptions)),
    };
    let mut builders = common_builders(cx);
    if cx.kind == MacroKind::Threads {
        builders.extend(super::count_builder("stack_size", &cx.options.stack_size));
    } else {
        builders.extend(timeout_builder(cx));
    }
    let opts = local1("options");
    let scope = local1("scope");
    let setup = quote!(let #opts = #rt::#module::#options_type::new() #builders;);
    match body {
        Body::List(tasks) => {
            let workers: Vec<_> = (0..tasks.len()).map(|k| local("worker", k)).collect();
            let outcomes: Vec<_> = (0..tasks.len()).map(|k| local("outcome", k)).collect();
            let spawns = tasks.iter().zip(&workers).map(|(task, worker)| {
                let name = cx.worker_name(task);
                let run = task_body(cx, task);
                quote!(let #worker = #scope.spawn(#name, || #run);)
            });
            let joins = if workers.len() == 1 {
                let worker = &workers[0];
                quote!(#worker.join())
            } else {
                quote!((#(#workers.join()),*))
            };
            let bind = if outcomes.len() == 1 {
                let outcome = &outcomes[0];
                quote!(#outcome)
            } else {
                quote!((#(#outcomes),*))
            };
            let finish = finish_list(cx, &outcomes);
            quote! {{
                #setup
                let #bind = #rt::#module::scope(&#opts, |#scope| {
                    #(#spawns)*
                    #joins
                });
                #finish
            }}
        }
        Body::Loop { pat, iter, task } => {
            let base = cx.base_name(task);
            let run = task_body(cx, task);
            let each = quote! {
                #rt::#module::spawn_each(&#opts, #rt::WorkerName::new(#base), #iter, |#pat| #run)
            };
            let finish = finish_each(cx, each);
            quote! {{
                #setup
                #finish
            }}
        }
        Body::Map { .. } | Body::Broken => unreachable_body(),
    }
}

fn unreachable_body() -> TokenStream {
    quote!(::core::panic!("fanout: invalid macro input"))
}
