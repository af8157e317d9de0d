//! `spawn_threads!` and `spawn_processes!`: one worker per task, in a scope
//! that joins (or reaps) every worker before it returns.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::Expr;

use super::site::Site;
use super::{
    Cx, closure_body, common_builders, finish_each, finish_list, local, local1, task_body,
    task_worker, timeout_builder, unpolled_check, unpolled_import,
};
use crate::options::{ProcessesOptions, ThreadsOptions};
use crate::plan::{Loop, Task, Tasks};

/// Which of the two macros, with its options.
pub enum Spawn<'a> {
    Threads(&'a ThreadsOptions),
    Processes(&'a ProcessesOptions),
}

pub fn expand(cx: &Cx<'_, Spawn<'_>>, tasks: &Tasks) -> TokenStream {
    let rt = cx.rt();
    let (module, options_type, handle) = match cx.options {
        Spawn::Processes(_) => (quote!(process), quote!(ProcessOptions), quote!(ChildHandle)),
        Spawn::Threads(_) => (quote!(threads), quote!(ThreadOptions), quote!(ThreadHandle)),
    };
    let mut builders = common_builders(cx);
    let race = match cx.options {
        Spawn::Threads(options) => {
            builders.extend(super::count_builder("stack_size", &options.stack_size));
            false
        }
        Spawn::Processes(options) => {
            builders.extend(timeout_builder(&options.timeout));
            options.race
        }
    };
    let opts = local1("options");
    let scope = local1("scope");
    let setup = quote!(let #opts = #rt::#module::#options_type::new() #builders;);
    match tasks {
        Tasks::List(tasks) if race => {
            // `race`: every task spawned, the first to finish wins, the
            // others are killed and reaped.
            let spawns = tasks.iter().map(|Task { written, runs }| {
                let site = Site::of(written);
                let name = cx.worker_name(written);
                let work = task_worker(runs);
                site.call(
                    quote!(#rt::#module::Scope::spawn),
                    quote!(#scope, #name, #work),
                )
            });
            let end = local1("end");
            let wins = race_wins(cx);
            let finish = race_finish(cx, &end);
            quote! {{
                #setup
                let #end = #rt::process::race(&#opts, #wins, |#scope| ::std::vec![#(#spawns),*]);
                #finish
            }}
        }
        Tasks::List(tasks) => {
            let workers: Vec<_> = (0..tasks.len()).map(|k| local("worker", k)).collect();
            let outcomes: Vec<_> = (0..tasks.len()).map(|k| local("outcome", k)).collect();
            // Each `spawn` is located at its task, so that a task that cannot
            // be sent to a thread (or whose output cannot come back from a
            // process) is reported there.
            let spawns = tasks
                .iter()
                .zip(&workers)
                .map(|(Task { written, runs }, worker)| {
                    let site = Site::of(written);
                    let name = cx.worker_name(written);
                    // In a child process, the writes that validation reported
                    // as lost are left out (see `writes`).
                    let work = task_worker(runs);
                    let spawn = site.call(
                        quote!(#rt::#module::Scope::spawn),
                        quote!(#scope, #name, #work),
                    );
                    quote!(let #worker = #spawn;)
                });
            // `join` spanned exactly like its task: a process task
            // whose output is not serializable is then reported once, by
            // `spawn`, and not again by `join` (which needs the same bound).
            let joins: Vec<TokenStream> = tasks
                .iter()
                .zip(&workers)
                .map(|(task, worker)| {
                    let site = Site::of(&task.written);
                    // rustc blames the argument: make it an expression that
                    // spans the task too.
                    let worker =
                        site.exact_call(quote!(::core::convert::identity), quote!(#worker));
                    site.exact_call(quote!(#rt::#module::#handle::join), worker)
                })
                .collect();
            let joins = if joins.len() == 1 {
                joins[0].clone()
            } else {
                quote!((#(#joins),*))
            };
            let bind = if outcomes.len() == 1 {
                let outcome = &outcomes[0];
                quote!(#outcome)
            } else {
                quote!((#(#outcomes),*))
            };
            let finish = finish_list(cx, &outcomes);
            // The scope's closure spans the tasks, so that the borrow checker
            // names the variables two tasks both borrow mutably.
            let all = match (tasks.first(), tasks.last()) {
                (Some(first), Some(last)) => Site::of(&first.written).to(Site::of(&last.written)),
                _ => Site::call_site(),
            };
            let body = all.closure(quote!(#scope), quote!(#(#spawns)* #joins));
            // On threads, a task that returns an `async fn`'s future is a
            // compile error on the task.
            let unpolled = match cx.options {
                Spawn::Threads(_) => {
                    let checks = tasks.iter().zip(&outcomes).map(|(task, outcome)| {
                        unpolled_check(
                            Site::of(&task.written),
                            quote!(#rt::unpolled::Output::of(&#outcome)),
                        )
                    });
                    let import = unpolled_import(cx);
                    quote!(#import #(#checks)*)
                }
                Spawn::Processes(_) => TokenStream::new(),
            };
            quote! {{
                #setup
                let #bind = #rt::#module::scope(&#opts, #body);
                #unpolled
                #finish
            }}
        }
        Tasks::Loop(each) => {
            let Loop {
                for_token,
                pat,
                iter,
                task: Task { written, runs },
                neutralized,
            } = &**each;
            let base = cx.worker_name(written);
            let site = Site::of(written);
            let params = pat.to_token_stream();
            // Reported by validation (a race on threads, a write lost in a
            // child process): left out, not reported again by the compiler.
            let closure = match (neutralized, runs) {
                (Some(body), _) => site.closure(params, body.clone()),
                (None, task @ (Expr::Path(_) | Expr::Closure(_))) => {
                    site.closure(params, task_body(cx, task))
                }
                (None, task) => site.closure_around(params, closure_body(task, Some(pat))),
            };
            if race {
                let end = local1("end");
                let wins = race_wins(cx);
                let finish = race_finish(cx, &end);
                let each = Site::of(for_token).to(site).call(
                    quote!(#rt::process::race_each),
                    quote!(&#opts, #wins, #base, #iter, #closure),
                );
                return quote! {{
                    #setup
                    let #end = #each;
                    #finish
                }};
            }
            let each = Site::of(for_token).to(site).call(
                quote!(#rt::#module::spawn_each),
                quote!(&#opts, #base, #iter, #closure),
            );
            let outcomes = local1("outcomes");
            let finish = finish_each(cx, quote!(#outcomes));
            let unpolled = match cx.options {
                Spawn::Threads(_) => {
                    let import = unpolled_import(cx);
                    let check =
                        unpolled_check(site, quote!(#rt::unpolled::Output::of_each(&#outcomes)));
                    quote!(#import #check)
                }
                Spawn::Processes(_) => TokenStream::new(),
            };
            quote! {{
                #setup
                let #outcomes = #each;
                #unpolled
                #finish
            }}
        }
    }
}

/// Which outputs win a race: any, or with `try` an `Ok`.
fn race_wins(cx: &Cx<'_, Spawn<'_>>) -> TokenStream {
    let rt = cx.rt();
    if cx.common.try_ {
        quote!(#rt::process::ok_output)
    } else {
        quote!(#rt::process::any_output)
    }
}

/// What a race returns, by the `catch` and `try` options.
fn race_finish(cx: &Cx<'_, Spawn<'_>>, end: &proc_macro2::Ident) -> TokenStream {
    let rt = cx.rt();
    let function = match (cx.common.catch, cx.common.try_) {
        (false, false) => quote!(race_output),
        (true, false) => quote!(race_caught),
        (false, true) => quote!(race_tried),
        (true, true) => quote!(race_tried_caught),
    };
    quote!(#rt::outcome::#function(#end))
}
