//! `spawn_threads!` and `spawn_processes!`: one worker per task, in a scope
//! that joins (or reaps) every worker before it returns.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::Expr;

use super::site::Site;
use super::{
    Cx, closure_body, common_builders, finish_each, finish_list, local, local1, task_body,
    task_worker, timeout_builder, without_lost_writes,
};
use crate::ast::{Body, MacroKind};
use crate::races;

pub fn expand(cx: &Cx<'_>, body: &Body) -> TokenStream {
    let rt = cx.rt();
    let (module, options_type, handle) = match cx.kind {
        MacroKind::Processes => (quote!(process), quote!(ProcessOptions), quote!(ChildHandle)),
        _ => (quote!(threads), quote!(ThreadOptions), quote!(ThreadHandle)),
    };
    let mut builders = common_builders(cx);
    if cx.kind == MacroKind::Threads {
        builders.extend(super::count_builder("stack_size", &cx.options.stack_size));
    } else {
        builders.extend(timeout_builder(cx));
    }
    let in_processes = cx.kind == MacroKind::Processes;
    let opts = local1("options");
    let scope = local1("scope");
    let setup = quote!(let #opts = #rt::#module::#options_type::new() #builders;);
    let race = in_processes && cx.options.race;
    match body {
        Body::List(tasks) if race => {
            // `race`: every task spawned, the first to finish wins, the
            // others are killed and reaped.
            let tasks: Vec<Expr> = tasks.iter().map(|task| no_await(cx, task)).collect();
            let spawns = tasks.iter().map(|task| {
                let site = Site::of(task);
                let name = cx.worker_name(task);
                let work = task_worker(&without_lost_writes(task, &[]));
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
        Body::List(tasks) => {
            let tasks: Vec<Expr> = tasks.iter().map(|task| no_await(cx, task)).collect();
            let tasks = &tasks;
            let workers: Vec<_> = (0..tasks.len()).map(|k| local("worker", k)).collect();
            let outcomes: Vec<_> = (0..tasks.len()).map(|k| local("outcome", k)).collect();
            // Each `spawn` is located at its task, so that a task that cannot
            // be sent to a thread (or whose output cannot come back from a
            // process) is reported there.
            let spawns = tasks.iter().zip(&workers).map(|(task, worker)| {
                let site = Site::of(task);
                let name = cx.worker_name(task);
                // In a child process, the writes that validation reported
                // as lost are left out (see `writes`).
                let work = if in_processes {
                    task_worker(&without_lost_writes(task, &[]))
                } else {
                    task_worker(task)
                };
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
                    let site = Site::of(task);
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
                (Some(first), Some(last)) => Site::of(first).to(Site::of(last)),
                _ => Site::call_site(),
            };
            let body = all.closure(quote!(#scope), quote!(#(#spawns)* #joins));
            quote! {{
                #setup
                let #bind = #rt::#module::scope(&#opts, #body);
                #finish
            }}
        }
        Body::Loop {
            for_token,
            pat,
            iter,
            task,
        } => {
            let task = &no_await(cx, task);
            let base = cx.worker_name(task);
            let site = Site::of(task);
            let params = pat.to_token_stream();
            let bound = races::idents(pat);
            // Reported by validation (a race on threads, a write lost in a
            // child process); not reported again by the compiler.
            let closure = if in_processes {
                match without_lost_writes(task, &bound) {
                    task @ (Expr::Path(_) | Expr::Closure(_)) => {
                        site.closure(params, task_body(cx, &task))
                    }
                    task => site.closure_around(params, closure_body(&task, Some(pat))),
                }
            } else {
                match races::assignment(task, &bound) {
                    Some(race) => site.closure(params, races::neutralize(&race)),
                    None => match task {
                        Expr::Path(_) | Expr::Closure(_) => {
                            site.closure(params, task_body(cx, task))
                        }
                        _ => site.closure_around(params, closure_body(task, Some(pat))),
                    },
                }
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
            quote! {{
                #setup
                let #outcomes = #each;
                #finish
            }}
        }
        Body::Map { .. } | Body::Broken => unreachable_body(),
    }
}

/// The task with its `.await`s left out (validation reported them): a task
/// on a thread or in a process is a plain closure.
fn no_await(cx: &Cx<'_>, task: &Expr) -> Expr {
    if crate::awaits::first(task).is_some() {
        crate::awaits::left_out(task, &cx.rt())
    } else {
        task.clone()
    }
}

/// Which outputs win a race: any, or with `try` an `Ok`.
fn race_wins(cx: &Cx<'_>) -> TokenStream {
    let rt = cx.rt();
    if cx.options.try_ {
        quote!(#rt::process::ok_output)
    } else {
        quote!(#rt::process::any_output)
    }
}

/// What a race returns, by the `catch` and `try` options.
fn race_finish(cx: &Cx<'_>, end: &proc_macro2::Ident) -> TokenStream {
    let rt = cx.rt();
    let function = match (cx.options.catch, cx.options.try_) {
        (false, false) => quote!(race_output),
        (true, false) => quote!(race_caught),
        (false, true) => quote!(race_tried),
        (true, true) => quote!(race_tried_caught),
    };
    quote!(#rt::outcome::#function(#end))
}

fn unreachable_body() -> TokenStream {
    quote!(::core::panic!("fanout: invalid macro input"))
}
