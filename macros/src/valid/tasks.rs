//! Mistakes in the tasks themselves that the macro can explain better than
//! the compiler would (`.await` or `?` in a worker, a closure where a future
//! goes, a race, a write a child process loses), and the tasks as their
//! workers run them: what was reported is left out, so that the compiler
//! does not report it a second time. Each detection runs once (but for a
//! process task with an `.await`, whose writes are taken out again once its
//! `.await`s are: its worker runs it without them).

use quote::ToTokens;
use syn::Expr;

use super::Backend;
use crate::ast::{self, Map};
use crate::kind::MacroKind::{self, Gather, Pool, Processes};
use crate::plan::{self, Task};
use crate::{awaits, races, writes};

/// The tasks of spawn_threads! (`kind` is `Threads`) or spawn_processes!
/// (`Processes`), checked.
pub fn spawned(kind: MacroKind, tasks: &ast::Tasks, errors: &mut Vec<syn::Error>) -> plan::Tasks {
    let all: Vec<&Expr> = match tasks {
        ast::Tasks::List(list) => list.iter().collect(),
        ast::Tasks::Loop(each) => vec![&each.task],
    };
    let awaited: Vec<bool> = all
        .iter()
        .map(|task| match awaits::first(task) {
            Some(awaited) => {
                errors.push(await_in_a_task(kind, awaited));
                true
            }
            None => false,
        })
        .collect();
    if let ast::Tasks::List(list) = tasks
        && let Some(Expr::Try(tried)) = list.iter().find(|task| matches!(task, Expr::Try(_)))
    {
        // One error for the list, on its first `?`.
        errors.push(question_mark_in_a_task(kind, list, tried));
    }
    for task in &all {
        closure_task(kind, task, errors);
    }
    // A worker is a plain closure: the task's `.await`s are left out.
    let no_await = |task: &Expr, awaited: bool| {
        if awaited {
            awaits::left_out(task, &plan::runtime_alias().to_token_stream())
        } else {
            task.clone()
        }
    };
    let backend = match kind {
        Processes => Backend::Processes { mpi: false },
        _ => Backend::Threads,
    };
    match tasks {
        ast::Tasks::List(list) => plan::Tasks::List(
            list.iter()
                .zip(awaited)
                .map(|(task, awaited)| {
                    let written = no_await(task, awaited);
                    let runs = match backend {
                        Backend::Threads => written.clone(),
                        Backend::Processes { .. } => {
                            let (found, without) =
                                without_lost_writes(task, &[], awaited, &written);
                            lost_writes(kind, backend, found, false, errors);
                            without
                        }
                    };
                    Task { written, runs }
                })
                .collect(),
        ),
        ast::Tasks::Loop(each) => {
            let awaited = awaited.first().copied().unwrap_or(false);
            let task = &each.task;
            let bound = races::idents(&each.pat);
            let written = no_await(task, awaited);
            let (runs, neutralized) = match backend {
                Backend::Threads => match races::assignment(task, &bound) {
                    Some(race) => {
                        errors.push(racy_assignment(kind, task, &race));
                        let value = no_await(race.value, awaited);
                        let body = races::neutralize(race.target, &value);
                        (written.clone(), Some(body))
                    }
                    None => (written.clone(), None),
                },
                Backend::Processes { .. } => {
                    lost_items(kind, backend, &each.iter, errors);
                    let (found, without) = without_lost_writes(task, &bound, awaited, &written);
                    lost_writes(kind, backend, found, true, errors);
                    (without, None)
                }
            };
            plan::Tasks::Loop(Box::new(plan::Loop {
                for_token: each.for_token,
                pat: each.pat.clone(),
                iter: each.iter.clone(),
                task: Task { written, runs },
                neutralized,
            }))
        }
    }
}

/// The lost writes of a process task, found in the task as written, and the
/// task without them as its worker runs it (`written`: its `.await`s left
/// out, which the writes are then taken out of).
fn without_lost_writes(
    task: &Expr,
    bound: &[syn::Ident],
    awaited: bool,
    written: &Expr,
) -> (Vec<writes::Found>, Expr) {
    let (found, without) = writes::scan(task, bound);
    let without = if awaited && !found.is_empty() {
        writes::scan(written, bound).1
    } else {
        without
    };
    (found, without.unwrap_or_else(|| written.clone()))
}

/// The tasks of gather!, checked.
pub fn gathered(tasks: &ast::Tasks, errors: &mut Vec<syn::Error>) {
    let all: Vec<&Expr> = match tasks {
        ast::Tasks::List(list) => list.iter().collect(),
        ast::Tasks::Loop(each) => vec![&each.task],
    };
    for task in all {
        closure_task(Gather, task, errors);
    }
}

/// The function of pool_map!, checked for `backend`, as the workers run it.
pub fn pool(map: &Map, backend: Backend, errors: &mut Vec<syn::Error>) -> Expr {
    let func = &map.func;
    match backend {
        Backend::Threads => {
            let (race, func) = on_threads(func);
            errors.extend(race);
            func
        }
        Backend::Processes { .. } => {
            lost_items(Pool, backend, &map.items, errors);
            // The whole closure: its parameters bind names, and a `move`
            // closure's captures are its own.
            let Expr::Closure(_) = func else {
                return func.clone();
            };
            let (found, without) = writes::scan(func, &[]);
            lost_writes(Pool, backend, found, true, errors);
            without.unwrap_or_else(|| func.clone())
        }
    }
}

/// The function of pool_map! on threads: the error for the racy assignment
/// of its closure, and the function without it.
pub fn on_threads(func: &Expr) -> (Option<syn::Error>, Expr) {
    let Expr::Closure(closure) = func else {
        return (None, func.clone());
    };
    match races::assignment(&closure.body, &races::idents(&closure.inputs)) {
        Some(race) => {
            let error = racy_assignment(Pool, &closure.body, &race);
            let mut fixed = closure.clone();
            fixed.body = Box::new(Expr::Verbatim(races::neutralize(race.target, race.value)));
            (Some(error), Expr::Closure(fixed))
        }
        None => (None, func.clone()),
    }
}

/// A closure given to gather!, or a task closure that takes arguments.
fn closure_task(kind: MacroKind, task: &Expr, errors: &mut Vec<syn::Error>) {
    let Expr::Closure(closure) = task else {
        return;
    };
    if kind == Gather {
        errors.push(syn::Error::new_spanned(
            closure,
            "gather! takes futures, not closures: call the async function (`task1()`) or write an `async { ... }` block",
        ));
    } else if !closure.inputs.is_empty() {
        let mut params = proc_macro2::TokenStream::new();
        closure.inputs_begin.to_tokens(&mut params);
        closure.inputs.to_tokens(&mut params);
        closure.inputs_end.to_tokens(&mut params);
        errors.push(syn::Error::new_spanned(
            params,
            format!(
                "a task closure takes no arguments: the worker calls it as `task()`. To run one task per item write `{}for x in items => work(x))`, or map a function with `pool_map!(|x| ..., items)`",
                kind.macro_name().replace('!', "!(")
            ),
        ));
    }
}

impl Backend {
    /// Where a process task runs, for messages.
    fn place(self) -> &'static str {
        match self {
            Backend::Processes { mpi: true } => "an MPI rank (a process of its own)",
            _ => "a child process",
        }
    }

    /// The option of pool_map! that picks this backend.
    fn option(self) -> &'static str {
        match self {
            Backend::Processes { mpi: true } => "mpi",
            _ => "processes",
        }
    }
}

/// Writes in a process task that go to the child's own copy of the caller's
/// memory: `counter += 1`, `fill(&mut buf)`.
fn lost_writes(
    kind: MacroKind,
    backend: Backend,
    found: Vec<writes::Found>,
    looped: bool,
    errors: &mut Vec<syn::Error>,
) {
    let place = backend.place();
    for found in found {
        let (what, target, op) = match &found.write {
            writes::Write::Assign {
                target,
                op,
                whole: true,
            } => (format!("`{target} {op} ...`"), target, op.as_str()),
            writes::Write::Assign { target, op, .. } => (
                format!("this assignment to `{target}`"),
                target,
                op.as_str(),
            ),
            writes::Write::Borrow { target } => (format!("`&mut {target}`"), target, "="),
        };
        let rewrite = match kind {
            Processes if !looped => {
                format!("let value = spawn_processes!(work()); {target} {op} value;")
            }
            Processes => format!(
                "let values = spawn_processes!(for i in items => work(i)); for value in values {{ {target} {op} value }}"
            ),
            _ => format!(
                "let values = pool_map!(|x| work(x), items; {}); for value in values {{ {target} {op} value }}",
                backend.option()
            ),
        };
        let wrong = match found.write {
            writes::Write::Assign { .. } => {
                format!("{what} runs in {place}, which writes to its own copy of `{target}`")
            }
            writes::Write::Borrow { .. } => format!(
                "{what} runs in {place}, where it borrows the child's own copy of `{target}`, and what is written through it goes to that copy"
            ),
        };
        let message = format!(
            "{wrong}: the copy is lost when the child exits, and the caller's `{target}` does not change. Return the value instead and let the caller write it: `{rewrite}`"
        );
        errors.push(syn::Error::new_spanned(found.tokens, message));
    }
}

/// Items that lend the caller's memory mutably to process tasks:
/// `pixels.chunks_mut(w)`.
fn lost_items(kind: MacroKind, backend: Backend, items: &Expr, errors: &mut Vec<syn::Error>) {
    let Some(lent) = writes::mut_items(items) else {
        return;
    };
    let target = lent
        .target
        .map_or_else(|| "the caller's data".to_owned(), |t| format!("`{t}`"));
    let how = if lent.how == "&mut" {
        "`&mut`".to_owned()
    } else {
        format!("`{}`", lent.how)
    };
    let rewrite = match kind {
        Processes => "let rows = spawn_processes!(for y in 0..h => render(y)); for (row, out) in pixels.chunks_mut(w).zip(rows) { row.copy_from_slice(&out) }".to_owned(),
        _ => format!(
            "let rows = pool_map!(|y| render(y), 0..h; {}); for (row, out) in pixels.chunks_mut(w).zip(rows) {{ row.copy_from_slice(&out) }}",
            backend.option()
        ),
    };
    let place = backend.place();
    errors.push(syn::Error::new_spanned(
        lent.tokens,
        format!(
            "{how} lends each task a part of {target} to write to, but a task runs in {place}, which writes to its own copy of the caller's memory: the copy is lost when the child exits, and {target} does not change. Return the values instead and let the caller write them: `{rewrite}`"
        ),
    ));
}

/// `fetch(url).await` in a thread or process task.
fn await_in_a_task(kind: MacroKind, awaited: &syn::ExprAwait) -> syn::Error {
    let place = if kind == Processes {
        "in a child process"
    } else {
        "on a thread"
    };
    let future = awaited.base.to_token_stream().to_string();
    let mut tokens = proc_macro2::TokenStream::new();
    awaited.dot_token.to_tokens(&mut tokens);
    awaited.await_token.to_tokens(&mut tokens);
    syn::Error::new_spanned(
        tokens,
        format!(
            "`.await` in a task of {}: the task runs {place}, as a plain function, where there is no async runtime to await on. Await futures together with gather! inside async code (`gather!({future}, ...)`), or run the future to its end inside the task with `fanout::run({future})`",
            kind.macro_name()
        ),
    )
}

/// `read(a)?` in a list: the `?` would return from the worker's closure, not
/// from the caller. Suggests the list without the `?`s, with `try`.
fn question_mark_in_a_task(kind: MacroKind, list: &[Expr], tried: &syn::ExprTry) -> syn::Error {
    let tasks: Vec<String> = list
        .iter()
        .map(|task| match task {
            Expr::Try(inner) => inner.expr.to_token_stream().to_string(),
            other => other.to_token_stream().to_string(),
        })
        .collect();
    let macro_name = kind.macro_name().trim_end_matches('!');
    syn::Error::new_spanned(
        tried.question_token,
        format!(
            "`?` inside a task would return from the task's own worker, not from the caller: the task runs on another {}. Let the tasks return their `Result`s and put `try` on the macro, then `?` on what it returns: `{macro_name}!({}; try)?`",
            if kind == Processes {
                "process"
            } else {
                "thread"
            },
            tasks.join(", ")
        ),
    )
}

/// `total += i` in a task that runs once per item on threads, all at the
/// same time.
fn racy_assignment(kind: MacroKind, task: &Expr, race: &races::Assignment<'_>) -> syn::Error {
    let target = race.target;
    let op = &race.op;
    let message = match kind {
        Pool => format!(
            "the function runs on several threads at once: `{target} {op} ...` from all of them would be a data race on `{target}`. Return the value instead and combine the outputs, which come back in order: `pool_map!(|x| work(x), items).iter().sum()`; or share an atomic (`AtomicUsize::fetch_add`) or a `Mutex`"
        ),
        _ => format!(
            "the tasks of the loop form all run at the same time: `{target} {op} ...` from each of them would be a data race on `{target}`. Return the value instead and combine the outputs, which come back in order: `spawn_threads!(for i in items => work(i)).iter().sum()`; or share an atomic (`AtomicUsize::fetch_add`) or a `Mutex`"
        ),
    };
    syn::Error::new_spanned(task, message)
}
