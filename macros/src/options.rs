//! Checks the options of an invocation: which belong to which macro, their
//! values, duplicates, and a did-you-mean for unknown names. Only this module
//! (and parsing) raises errors.

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitStr};

use crate::ast::{Body, Invocation, MacroKind, RawOption};
use crate::races;
use crate::writes;

/// The options of one invocation, checked.
#[derive(Default)]
pub struct Options {
    pub catch: bool,
    /// Where `catch` was written: with `try`, the tasks' error type must
    /// hold a `fanout::Error`, and an error about that points there.
    pub catch_at: Option<proc_macro2::Span>,
    pub try_: bool,
    pub name: Option<Name>,
    pub stack_size: Option<Expr>,
    pub timeout: Option<Expr>,
    pub workers: Option<Expr>,
    pub chunksize: Option<Expr>,
    pub limit: Option<Expr>,
    pub processes: bool,
    pub spawn: bool,
    pub progress: bool,
    pub timeline: bool,
    pub mpi: bool,
    // gather!'s streams and races (issue 12).
    pub stream: bool,
    pub unordered: bool,
    pub race: bool,
    pub buffer: Option<Expr>,
    // pool_map!'s streams, `init` and `recycle` (issue 12; `stream`,
    // `unordered` and `buffer` above are shared with gather!).
    pub init: Option<Expr>,
    pub recycle: Option<Expr>,
    /// Values of rejected options: still type-checked in a closure that never
    /// runs, so the user's imports and locals stay "used" next to the error.
    pub rejected: Vec<Expr>,
}

/// The value of `name = ...`.
pub enum Name {
    /// `name = "io"`: fixed when the program is compiled.
    Literal(LitStr),
    /// `name = EXPR`: any string, read once at run time, before the workers
    /// start (`name = format!("req-{id}")`, `name = who.as_str()`).
    Dynamic(Expr),
}

/// Every option of every macro: name, takes a value, the macros it belongs to,
/// and what it does (for messages).
struct Spec {
    name: &'static str,
    value: Option<&'static str>,
    macros: &'static [MacroKind],
}

use MacroKind::{Gather, Pool, Processes, Threads};

const SPECS: &[Spec] = &[
    Spec {
        name: "catch",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "try",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "name",
        value: Some("name = \"io\""),
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "timeline",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "progress",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "stack_size",
        value: Some("stack_size = 8 * 1024 * 1024"),
        macros: &[Threads],
    },
    Spec {
        name: "timeout",
        value: Some("timeout = Duration::from_secs(5)"),
        macros: &[Processes, Pool, Gather],
    },
    Spec {
        name: "workers",
        value: Some("workers = 4"),
        macros: &[Pool],
    },
    Spec {
        name: "chunksize",
        value: Some("chunksize = 100"),
        macros: &[Pool],
    },
    Spec {
        name: "processes",
        value: None,
        macros: &[Pool],
    },
    Spec {
        name: "mpi",
        value: None,
        macros: &[Pool],
    },
    Spec {
        name: "limit",
        value: Some("limit = 10"),
        macros: &[Gather],
    },
    Spec {
        name: "spawn",
        value: None,
        macros: &[Gather],
    },
    // gather!'s streams and races (issue 12).
    Spec {
        name: "stream",
        value: None,
        macros: &[Gather, Pool],
    },
    Spec {
        name: "unordered",
        value: None,
        macros: &[Gather, Pool],
    },
    Spec {
        name: "buffer",
        value: Some("buffer = 64"),
        macros: &[Gather, Pool],
    },
    Spec {
        name: "race",
        value: None,
        macros: &[Gather, Processes],
    },
    // pool_map!'s `init` and `recycle` (issue 12).
    Spec {
        name: "init",
        value: Some("init = || Db::connect(url)"),
        macros: &[Pool],
    },
    Spec {
        name: "recycle",
        value: Some("recycle = 100"),
        macros: &[Pool],
    },
];

/// Whether `name` is an option of any of the macros.
pub fn is_option(name: &str) -> bool {
    SPECS.iter().any(|spec| spec.name == name)
}

/// Checks `invocation.options`; mistakes are appended to `errors`, and the
/// options that are fine are kept so the expansion stays close to the intent.
pub fn validate(invocation: &Invocation, errors: &mut Vec<syn::Error>) -> Options {
    let kind = invocation.kind;
    let mut options = Options::default();
    let mut seen: Vec<&RawOption> = Vec::new();
    for option in &invocation.options {
        let name = option.name.to_string();
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            errors.push(unknown(kind, option));
            options.rejected.extend(option.value.clone());
            continue;
        };
        if !spec.macros.contains(&kind) {
            errors.push(misplaced(kind, option, spec));
            options.rejected.extend(option.value.clone());
            continue;
        }
        if let Some(first) = seen.iter().find(|s| s.name == option.name) {
            let mut error =
                syn::Error::new(option.name.span(), format!("duplicate option `{name}`"));
            error.combine(syn::Error::new(
                first.name.span(),
                format!("`{name}` was first given here"),
            ));
            errors.push(error);
            continue;
        }
        seen.push(option);
        match (spec.value, &option.value) {
            (None, Some(value)) => {
                let mut written = proc_macro2::TokenStream::new();
                option.eq.to_tokens(&mut written);
                value.to_tokens(&mut written);
                errors.push(syn::Error::new_spanned(
                    written,
                    format!("`{name}` is a flag and takes no value: write `{name}` alone"),
                ));
                continue;
            }
            (Some(usage), None) => {
                errors.push(syn::Error::new(
                    option.name.span(),
                    format!("`{name}` needs a value, for example `{usage}`"),
                ));
                continue;
            }
            _ => {}
        }
        if let Err(error) = set(&mut options, kind, option) {
            errors.push(error);
        }
    }
    if let (true, true, Some(mpi), Some(processes)) = (
        options.mpi,
        options.processes,
        option_span(invocation, "mpi"),
        option_span(invocation, "processes"),
    ) {
        let (first, second) = if invocation.options.iter().position(|o| o.name == "mpi")
            < invocation
                .options
                .iter()
                .position(|o| o.name == "processes")
        {
            (mpi, processes)
        } else {
            (processes, mpi)
        };
        // One error, underlined from the first name written to the second.
        let both: proc_macro2::TokenStream = [first, second]
            .into_iter()
            .map(|span| proc_macro2::TokenTree::Ident(syn::Ident::new("backend", span)))
            .collect();
        let error = syn::Error::new_spanned(
            both,
            "`mpi` and `processes` are two backends of pool_map!, and one pool runs on one of them; pick one: `processes` forks worker processes on this machine (`pool_map!(f, items; processes)`), `mpi` spreads the items over the ranks of an MPI job started with `mpirun` (`pool_map!(f, items; mpi)`)",
        );
        errors.push(error);
        // The best-effort expansion keeps `processes` (if its feature is on).
        options.mpi = false;
    }
    check_tasks(invocation, &options, errors);
    if kind == Pool {
        check_pool_streams(invocation, &mut options, errors);
    }
    check_gather_streams(invocation, &mut options, errors);
    if invocation.no_fork && (kind == Processes || options.processes) {
        let span =
            option_span(invocation, "processes").unwrap_or_else(proc_macro2::Span::call_site);
        errors.push(syn::Error::new(
            span,
            "processes need `fork`, which this target does not have: spawn_processes! and pool_map!(...; processes) run on Linux and macOS. Here, use spawn_threads! or pool_map! without `processes`",
        ));
        options.processes = false;
    }
    if options.progress && matches!(invocation.body, Body::List(_)) {
        errors.push(syn::Error::new(
            option_span(invocation, "progress").unwrap_or_else(proc_macro2::Span::call_site),
            format!(
                "`progress` counts the items of a loop: use it with the loop form, as in `{}for i in 0..100 => worker(i); progress)`",
                kind.macro_name().replace('!', "!(")
            ),
        ));
        options.progress = false;
    }
    check_features(invocation, &mut options, errors);
    options
}

// pool_map!'s streams, `init` and `recycle` (issue 12): which options go
// together. Checked before gather!'s rules, so that a pool_map! mistake gets
// its own message; a refused option is dropped (the collecting form stays).
fn check_pool_streams(
    invocation: &Invocation,
    options: &mut Options,
    errors: &mut Vec<syn::Error>,
) {
    let at =
        |name: &str| option_span(invocation, name).unwrap_or_else(proc_macro2::Span::call_site);
    if options.stream && options.unordered {
        errors.push(syn::Error::new(
            at("unordered"),
            "`stream` yields the outputs in input order and `unordered` yields `(index, output)` in completion order: choose one",
        ));
        options.unordered = false;
    }
    let streaming = options.stream || options.unordered;
    let option = if options.stream {
        "stream"
    } else {
        "unordered"
    };
    if options.buffer.is_some() && !streaming {
        errors.push(syn::Error::new(
            at("buffer"),
            "`buffer` bounds how many items a `stream` or `unordered` pool_map! takes ahead of what it yielded; without one, pool_map! returns only once every item ran, so it takes them all: add `stream` (outputs in input order, as they become available) or `unordered` (`(index, output)` in completion order)",
        ));
        options.rejected.extend(options.buffer.take());
    }
    if streaming && options.mpi {
        errors.push(syn::Error::new(
            at(option),
            format!(
                "`{option}` is not available with `mpi`: every rank takes its share of the items at once. Stream on threads (drop `mpi`) or in processes (`processes, {option}`), or drop `{option}` to collect the outputs"
            ),
        ));
        options.stream = false;
        options.unordered = false;
    }
    if streaming && options.processes && options.recycle.is_some() {
        errors.push(syn::Error::new(
            at("recycle"),
            format!(
                "`recycle` is not available with `{option}`: a stream's worker processes are forked when it starts and cannot be replaced later. Drop `recycle`, or drop `{option}` to collect with recycled workers"
            ),
        ));
        options.rejected.extend(options.recycle.take());
    }
    if (options.stream || options.unordered) && options.timeout.is_some() {
        errors.push(syn::Error::new(
            at("timeout"),
            format!(
                "`timeout` is not available with `{option}`: a stream is consumed at the caller's pace, so there is no end to put a deadline on. Drop `{option}` to collect with a deadline, or bound each item inside the function"
            ),
        ));
        options.rejected.extend(options.timeout.take());
    }
    if options.recycle.is_some() && !options.processes {
        errors.push(syn::Error::new(
            at("recycle"),
            "`recycle = N` replaces a worker process after N items (Python's `max_tasks_per_child`); threads share one process and are not replaced: run the map in processes, `pool_map!(f, items; processes, recycle = 100)`",
        ));
        options.rejected.extend(options.recycle.take());
    }
    if options.init.is_some() && options.mpi {
        errors.push(syn::Error::new(
            at("init"),
            "`init` is not available with `mpi` yet: build the state in the function, or run on threads or `processes`",
        ));
        options.rejected.extend(options.init.take());
    }
}

/// The forms and options whose feature of the facade is off (the
/// `[$crate; no_pool, ...]` flags): one error each, on the user's tokens,
/// naming the feature to turn on. The best-effort expansion drops the option;
/// a macro whose backend is off expands to nothing usable (`expand::entry`).
fn check_features(invocation: &Invocation, options: &mut Options, errors: &mut Vec<syn::Error>) {
    use MacroKind::*;
    let off = invocation.off;
    let kind = invocation.kind;
    let turn_on = |feature: &str, brings: &str| {
        format!(
            "add `features = [\"{feature}\"]` to the fanout dependency in Cargo.toml ({brings})"
        )
    };
    let backend = match kind {
        Threads if off.threads => Some(("threads", "it needs only std")),
        Processes if off.processes && !invocation.no_fork => {
            Some(("processes", "it brings serde, rmp-serde, stacker and libc"))
        }
        Pool if off.pool => Some(("pool", "it brings rayon")),
        Gather if off.gather => Some(("gather", "it brings tokio, futures and pin-project-lite")),
        _ => None,
    };
    if let Some((feature, brings)) = backend {
        errors.push(syn::Error::new_spanned(
            body_tokens(&invocation.body),
            format!(
                "{} needs fanout's `{feature}` feature, which is off: {}, or turn the default features back on",
                kind.macro_name(),
                turn_on(feature, brings)
            ),
        ));
        return;
    }
    if kind == Pool && options.processes && off.processes {
        errors.push(syn::Error::new(
            option_span(invocation, "processes").unwrap_or_else(proc_macro2::Span::call_site),
            format!(
                "pool_map!(...; processes) needs fanout's `processes` feature, which is off: {}, or drop `processes` to run the pool on threads",
                turn_on("processes", "it brings serde, rmp-serde, stacker and libc")
            ),
        ));
        options.processes = false;
    }
    if options.progress && off.progress {
        errors.push(syn::Error::new(
            option_span(invocation, "progress").unwrap_or_else(proc_macro2::Span::call_site),
            format!(
                "`progress` needs fanout's `progress` feature, which is off: {}, or drop `progress`",
                turn_on("progress", "it brings indicatif")
            ),
        ));
        options.progress = false;
    }
}

/// The user's tasks (or function and items), for an error about the whole
/// invocation.
fn body_tokens(body: &Body) -> proc_macro2::TokenStream {
    match body {
        Body::List(tasks) => quote::quote!(#(#tasks),*),
        Body::Loop {
            for_token, task, ..
        } => quote::quote!(#for_token #task),
        Body::Map { func, items } => quote::quote!(#func, #items),
        Body::Broken => proc_macro2::TokenStream::new(),
    }
}

// gather!'s streams and races (issue 12): which options go together. A
// refused combination keeps the collecting form, so the expansion stays
// well-typed next to the error.
fn check_gather_streams(
    invocation: &Invocation,
    options: &mut Options,
    errors: &mut Vec<syn::Error>,
) {
    let at =
        |name: &str| option_span(invocation, name).unwrap_or_else(proc_macro2::Span::call_site);
    let streaming = options.stream || options.unordered;
    if options.stream && options.unordered {
        errors.push(syn::Error::new(
            at("unordered"),
            "`stream` yields the outputs in input order and `unordered` yields `(index, output)` in completion order: choose one",
        ));
        options.unordered = false;
    }
    if options.race && streaming {
        let option = if options.stream {
            "stream"
        } else {
            "unordered"
        };
        errors.push(syn::Error::new(
            at("race"),
            format!(
                "`race` returns the output of the first task to finish and cancels the others; `{option}` yields every output: choose one (the first item of `unordered` is the fastest task, without cancelling the others)"
            ),
        ));
        options.stream = false;
        options.unordered = false;
    }
    let streaming = options.stream || options.unordered;
    if options.buffer.is_some() && !streaming {
        errors.push(syn::Error::new(
            at("buffer"),
            "`buffer` bounds how many items a `stream` or `unordered` gather takes ahead of what it yielded; without one the gather returns only once every item ran, so it must take them all: add `stream` (outputs in input order) or `unordered` (in completion order), or bound the futures in flight with `limit = N`",
        ));
        options.rejected.extend(options.buffer.take());
    }
    if streaming && let Body::List(_) = invocation.body {
        let option = if options.stream {
            "stream"
        } else {
            "unordered"
        };
        errors.push(syn::Error::new(
            at(option),
            format!(
                "`{option}` yields the outputs of the loop form one by one: write `gather!(for url in urls => fetch(url); {option})`; a list of tasks is awaited whole (its outputs may have different types)"
            ),
        ));
        options.stream = false;
        options.unordered = false;
    }
    if (options.stream || options.unordered) && options.timeout.is_some() {
        let option = if options.stream {
            "stream"
        } else {
            "unordered"
        };
        errors.push(syn::Error::new(
            at("timeout"),
            format!(
                "`timeout` is not available with `{option}`: a stream is consumed at the caller's pace, so there is no end to put a deadline on. Bound each task instead (`tokio::time::timeout(Duration::from_secs(5), fetch(url))`), or each wait for the next item (`tokio::time::timeout(d, stream.next())`)"
            ),
        ));
        options.rejected.extend(options.timeout.take());
    }
}

/// Mistakes in the tasks themselves that the macro can explain better than
/// the compiler would.
fn check_tasks(invocation: &Invocation, options: &Options, errors: &mut Vec<syn::Error>) {
    let kind = invocation.kind;
    let tasks: Vec<&Expr> = match &invocation.body {
        Body::List(tasks) => tasks.iter().collect(),
        Body::Loop { task, .. } => vec![task],
        Body::Map { .. } | Body::Broken => Vec::new(),
    };
    if matches!(kind, Threads | Processes) {
        for task in &tasks {
            if let Some(awaited) = crate::awaits::first(task) {
                errors.push(await_in_a_task(kind, awaited));
            }
        }
    }
    if let (Body::List(list), Threads | Processes) = (&invocation.body, kind)
        && let Some(Expr::Try(tried)) = list.iter().find(|task| matches!(task, Expr::Try(_)))
    {
        // One error for the list, on its first `?`.
        errors.push(question_mark_in_a_task(kind, list, tried));
    }
    for task in tasks {
        if let Expr::Closure(closure) = task {
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
    }
    let backend = Backend::of(kind, options);
    match (&invocation.body, backend) {
        (Body::Loop { pat, task, .. }, Backend::Threads) if kind == Threads => {
            if let Some(race) = races::assignment(task, &races::idents(pat)) {
                errors.push(racy_assignment(kind, task, &race));
            }
        }
        (Body::Map { func, .. }, Backend::Threads) => {
            if let Expr::Closure(closure) = func
                && let Some(race) =
                    races::assignment(&closure.body, &races::idents(&closure.inputs))
            {
                errors.push(racy_assignment(kind, &closure.body, &race));
            }
        }
        (Body::List(tasks), Backend::Processes { .. }) => {
            for task in tasks {
                lost_writes(kind, backend, task, &[], false, errors);
            }
        }
        (
            Body::Loop {
                pat, iter, task, ..
            },
            Backend::Processes { .. },
        ) => {
            lost_items(kind, backend, iter, errors);
            lost_writes(kind, backend, task, &races::idents(pat), true, errors);
        }
        (Body::Map { func, items }, Backend::Processes { .. }) => {
            lost_items(kind, backend, items, errors);
            // The whole closure: its parameters bind names, and a `move`
            // closure's captures are its own.
            if let Expr::Closure(_) = func {
                lost_writes(kind, backend, func, &[], true, errors);
            }
        }
        _ => {}
    }
}

/// Where the tasks of an invocation run: threads share the caller's memory,
/// processes (and MPI ranks) have a copy of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Threads,
    /// Forked processes, or the ranks of an MPI job.
    Processes {
        mpi: bool,
    },
}

impl Backend {
    pub fn of(kind: MacroKind, options: &Options) -> Backend {
        match kind {
            Processes => Backend::Processes { mpi: false },
            Pool if options.mpi => Backend::Processes { mpi: true },
            Pool if options.processes => Backend::Processes { mpi: false },
            _ => Backend::Threads,
        }
    }

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
    task: &Expr,
    bound: &[syn::Ident],
    looped: bool,
    errors: &mut Vec<syn::Error>,
) {
    let (found, _) = writes::scan(task, bound);
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

fn option_span(invocation: &Invocation, name: &str) -> Option<proc_macro2::Span> {
    invocation
        .options
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.name.span())
}

fn set(options: &mut Options, kind: MacroKind, option: &RawOption) -> syn::Result<()> {
    let value = option.value.clone();
    match option.name.to_string().as_str() {
        "catch" => {
            options.catch = true;
            options.catch_at = Some(option.name.span());
        }
        "try" => options.try_ = true,
        "timeline" => options.timeline = true,
        "progress" => options.progress = true,
        "processes" => options.processes = true,
        "spawn" => options.spawn = true,
        "mpi" => options.mpi = true,
        "name" => options.name = Some(string_value(option)?),
        "stack_size" => {
            options.stack_size = Some(positive(
                option,
                "a thread needs a stack: give its size in bytes",
            )?)
        }
        "workers" => options.workers = Some(positive(option, "a pool needs at least one worker")?),
        "chunksize" => {
            options.chunksize = Some(positive(option, "a chunk holds at least one item")?)
        }
        "limit" => {
            options.limit = Some(positive(
                option,
                "with `limit = 0` no future could ever run",
            )?)
        }
        "timeout" => options.timeout = Some(duration(option)?),
        // gather!'s streams and races (issue 12).
        "stream" => options.stream = true,
        "unordered" => options.unordered = true,
        "race" => options.race = true,
        "buffer" => {
            options.buffer = Some(positive(
                option,
                "with `buffer = 0` no item could ever be taken",
            )?)
        }
        // pool_map!'s `init` and `recycle` (issue 12).
        "init" => options.init = value,
        "recycle" => {
            options.recycle = Some(positive(
                option,
                "a worker process runs at least one item before it is replaced",
            )?)
        }
        _ => {
            let _ = (kind, value);
        }
    }
    Ok(())
}

/// `name = "io"`, or any expression whose value is a string (its type is
/// checked by the compiler, on the user's tokens: see `Cx::name_setup`).
fn string_value(option: &RawOption) -> syn::Result<Name> {
    match &option.value {
        Some(Expr::Lit(lit)) => match &lit.lit {
            Lit::Str(s) if !s.value().is_empty() => Ok(Name::Literal(s.clone())),
            Lit::Str(s) => Err(syn::Error::new(s.span(), "a worker name cannot be empty")),
            other => Err(syn::Error::new(
                other.span(),
                "`name` takes a string, for example `name = \"io\"` or `name = format!(\"req-{id}\")`",
            )),
        },
        Some(other) => Ok(Name::Dynamic(other.clone())),
        None => Err(syn::Error::new(option.name.span(), "`name` needs a value")),
    }
}

/// A count that must not be zero; a literal 0 is caught here, other
/// expressions at run time.
fn positive(option: &RawOption, why: &str) -> syn::Result<Expr> {
    let value = option
        .value
        .clone()
        .ok_or_else(|| syn::Error::new(option.name.span(), "needs a value"))?;
    if let Expr::Lit(lit) = &value {
        match &lit.lit {
            Lit::Int(int) => {
                if int.base10_digits().trim_start_matches('0').is_empty() {
                    return Err(syn::Error::new(
                        int.span(),
                        format!("`{} = 0` is not allowed: {why}", option.name),
                    ));
                }
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "`{}` takes a whole number, for example `{} = 4`",
                        option.name, option.name
                    ),
                ));
            }
        }
    }
    Ok(value)
}

fn duration(option: &RawOption) -> syn::Result<Expr> {
    let value = option
        .value
        .clone()
        .ok_or_else(|| syn::Error::new(option.name.span(), "needs a value"))?;
    if let Expr::Lit(lit) = &value
        && matches!(lit.lit, Lit::Int(_) | Lit::Float(_))
    {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`timeout` takes a `std::time::Duration`, not a bare number: write `timeout = Duration::from_secs({})` or `Duration::from_millis(...)`",
                quote::ToTokens::to_token_stream(&lit.lit)
            ),
        ));
    }
    Ok(value)
}

fn unknown(kind: MacroKind, option: &RawOption) -> syn::Error {
    let name = option.name.to_string();
    let known: Vec<&str> = SPECS
        .iter()
        .filter(|s| s.macros.contains(&kind))
        .map(|s| s.name)
        .collect();
    let suggestion = known
        .iter()
        .map(|k| (distance(&name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k);
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match suggestion {
        Some(k) => format!(
            "unknown option `{name}` for {}; did you mean `{k}`? (its options: {list})",
            kind.macro_name()
        ),
        None => format!(
            "unknown option `{name}` for {}; its options are {list}",
            kind.macro_name()
        ),
    };
    syn::Error::new(option.name.span(), message)
}

fn misplaced(kind: MacroKind, option: &RawOption, spec: &Spec) -> syn::Error {
    let name = spec.name;
    let message = match (name, kind) {
        ("timeout", Threads) => "`timeout` is not available on spawn_threads!: a running thread cannot be cancelled or killed from outside, so there is no way to stop it at a deadline. Run the tasks in child processes instead, which can be killed: `spawn_processes!(...; timeout = Duration::from_secs(5))`".to_owned(),
        ("processes", Threads | Processes) => format!(
            "`processes` is an option of pool_map!, not of {}; to run each task in its own process write `spawn_processes!(...)`",
            kind.macro_name()
        ),
        ("processes", Gather) => "`processes` is an option of pool_map!; gather! polls futures on the current task. To run work in processes use `spawn_processes!(...)` or `pool_map!(f, items; processes)`".to_owned(),
        ("race", Threads) => "`race` is not available on spawn_threads!: the losers of a race are cancelled, and a running thread cannot be cancelled or killed from outside. Race child processes, which can be killed (`spawn_processes!(solve_a(), solve_b(); race)`), or futures, which are dropped (`gather!(mirror_a(), mirror_b(); race)`)".to_owned(),
        ("stack_size", Processes) => "`stack_size` sets the stack of a thread; a forked process keeps the stack of the thread that forked it".to_owned(),
        _ => {
            let owners: Vec<&str> = spec.macros.iter().map(|m| m.macro_name()).collect();
            format!(
                "`{name}` is an option of {}, not of {}",
                owners.join(" and "),
                kind.macro_name()
            )
        }
    };
    syn::Error::new(option.name.span(), message)
}

/// Levenshtein distance, for the did-you-mean.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("cathc", "catch"), 2);
        assert_eq!(distance("worker", "workers"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
