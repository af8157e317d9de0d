//! The options that do not go together (`mpi` and `processes`, `stream`
//! and `race`...), and the forms and options that need what the target
//! lacks (`fork`, a feature of the facade that is off). A refused option is
//! dropped, so that the best-effort expansion keeps the collecting form.

use proc_macro2::Span;

use crate::ast::{Call, Form, Tasks};
use crate::kind::MacroKind;
use crate::options::{Common, GatherOptions, PoolOptions};

/// Where the option `name` was first written.
fn option_span(call: &Call, name: &str) -> Option<Span> {
    call.options
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.name.span())
}

/// Where the option `name` was written, or the macro call.
fn at(call: &Call, name: &str) -> Span {
    option_span(call, name).unwrap_or_else(Span::call_site)
}

/// `mpi` and `processes` together: one error, and the pool keeps
/// `processes`.
pub fn one_backend(call: &Call, options: &mut PoolOptions, errors: &mut Vec<syn::Error>) {
    let (true, true, Some(mpi), Some(processes)) = (
        options.mpi,
        options.processes,
        option_span(call, "mpi"),
        option_span(call, "processes"),
    ) else {
        return;
    };
    let position = |name: &str| call.options.iter().position(|o| o.name == name);
    let (first, second) = if position("mpi") < position("processes") {
        (mpi, processes)
    } else {
        (processes, mpi)
    };
    // One error, underlined from the first name written to the second.
    let both: proc_macro2::TokenStream = [first, second]
        .into_iter()
        .map(|span| proc_macro2::TokenTree::Ident(syn::Ident::new("backend", span)))
        .collect();
    errors.push(syn::Error::new_spanned(
        both,
        "`mpi` and `processes` are two backends of pool_map!, and one pool runs on one of them; pick one: `processes` forks worker processes on this machine (`pool_map!(f, items; processes)`), `mpi` spreads the items over the ranks of an MPI job started with `mpirun` (`pool_map!(f, items; mpi)`)",
    ));
    // The best-effort expansion keeps `processes` (if its feature is on).
    options.mpi = false;
}

// pool_map!'s streams, `init` and `recycle` (issue 12): which options go
// together. A refused option is dropped (the collecting form stays).
pub fn check_pool_streams(
    call: &Call,
    options: &mut PoolOptions,
    errors: &mut Vec<syn::Error>,
    rejected: &mut Vec<syn::Expr>,
) {
    let at = |name: &str| at(call, name);
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
        rejected.extend(options.buffer.take());
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
        // Its `buffer` goes with it: one error for the one mistake.
        rejected.extend(options.buffer.take());
    }
    if (options.stream || options.unordered) && options.timeout.is_some() {
        errors.push(syn::Error::new(
            at("timeout"),
            format!(
                "`timeout` is not available with `{option}`: a stream is consumed at the caller's pace, so there is no end to put a deadline on. Drop `{option}` to collect with a deadline, or bound each item inside the function"
            ),
        ));
        rejected.extend(options.timeout.take());
    }
    if streaming
        && !options.processes
        && !options.mpi
        && let Form::Pool(Some(map)) = &call.form
    {
        let found =
            crate::stream_borrows::check(&map.func, &map.items, options.init.as_ref(), option);
        options.stream_borrows = !found.is_empty();
        errors.extend(found);
    }
    if options.recycle.is_some() && !options.processes {
        errors.push(syn::Error::new(
            at("recycle"),
            "`recycle = N` replaces a worker process after N items (Python's `max_tasks_per_child`); threads share one process and are not replaced: run the map in processes, `pool_map!(f, items; processes, recycle = 100)`",
        ));
        rejected.extend(options.recycle.take());
    }
}

// gather!'s streams and races (issue 12): which options go together. A
// refused combination keeps the collecting form, so the expansion stays
// well-typed next to the error.
pub fn check_gather_streams(
    call: &Call,
    tasks: Option<&Tasks>,
    options: &mut GatherOptions,
    errors: &mut Vec<syn::Error>,
    rejected: &mut Vec<syn::Expr>,
) {
    let at = |name: &str| at(call, name);
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
        errors.push(unstreamed_gather_buffer(at("buffer")));
        rejected.extend(options.buffer.take());
    }
    if streaming && let Some(Tasks::List(_)) = tasks {
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
        rejected.extend(options.timeout.take());
    }
}

fn unstreamed_gather_buffer(at: Span) -> syn::Error {
    syn::Error::new(
        at,
        "`buffer` bounds how many items a `stream` or `unordered` gather takes ahead of what it yielded; without one the gather returns only once every item ran, so it must take them all: add `stream` (outputs in input order) or `unordered` (in completion order), or bound the futures in flight with `limit = N`",
    )
}

/// spawn_processes! or `pool_map!(...; processes)` on a target without `fork`.
pub fn no_fork(call: &Call) -> syn::Error {
    syn::Error::new(
        at(call, "processes"),
        "processes need `fork`, which this target does not have: spawn_processes! and pool_map!(...; processes) run on Linux and macOS. Here, use spawn_threads! or pool_map! without `processes`",
    )
}

/// `progress` counts the items of a loop, and a list has none.
pub fn progress_on_a_list(call: &Call, common: &mut Common, errors: &mut Vec<syn::Error>) {
    if common.progress && matches!(call.form.tasks(), Some(Tasks::List(_))) {
        let kind = call.form.kind();
        errors.push(syn::Error::new(
            at(call, "progress"),
            format!(
                "`progress` counts the items of a loop: use it with the loop form, as in `{}for i in 0..100 => worker(i); progress)`",
                kind.macro_name().replace('!', "!(")
            ),
        ));
        common.progress = false;
    }
}

// The forms and options whose feature of the facade is off (the
// `[$crate; no_pool, ...]` flags): one error each, on the user's tokens,
// naming the feature to turn on. The best-effort expansion drops the option;
// a macro whose backend is off expands to nothing usable.

fn turn_on(feature: &str, brings: &str) -> String {
    format!("add `features = [\"{feature}\"]` to the fanout dependency in Cargo.toml ({brings})")
}

/// The macro's own feature is off.
pub fn backend_feature_off(call: &Call) -> syn::Error {
    let kind = call.form.kind();
    let (feature, brings) = match kind {
        MacroKind::Threads => ("threads", "it needs only std"),
        MacroKind::Processes => ("processes", "it brings serde, rmp-serde, stacker and libc"),
        MacroKind::Pool => ("pool", "it brings rayon"),
        MacroKind::Gather => ("gather", "it brings tokio, futures and pin-project-lite"),
    };
    syn::Error::new_spanned(
        body_tokens(&call.form),
        format!(
            "{} needs fanout's `{feature}` feature, which is off: {}, or turn the default features back on",
            kind.macro_name(),
            turn_on(feature, brings)
        ),
    )
}

/// `pool_map!(...; processes)` with the `processes` feature off: the pool
/// runs on threads.
pub fn pool_processes_off(call: &Call, options: &mut PoolOptions, errors: &mut Vec<syn::Error>) {
    if options.processes && call.target.off.processes {
        errors.push(syn::Error::new(
            at(call, "processes"),
            format!(
                "pool_map!(...; processes) needs fanout's `processes` feature, which is off: {}, or drop `processes` to run the pool on threads",
                turn_on("processes", "it brings serde, rmp-serde, stacker and libc")
            ),
        ));
        options.processes = false;
    }
}

pub fn progress_off(call: &Call, common: &mut Common, errors: &mut Vec<syn::Error>) {
    if common.progress && call.target.off.progress {
        errors.push(syn::Error::new(
            at(call, "progress"),
            format!(
                "`progress` needs fanout's `progress` feature, which is off: {}, or drop `progress`",
                turn_on("progress", "it brings indicatif")
            ),
        ));
        common.progress = false;
    }
}

/// The user's tasks (or function and items), for an error about the whole
/// invocation.
fn body_tokens(form: &Form) -> proc_macro2::TokenStream {
    match form {
        Form::Pool(Some(map)) => {
            let (func, items) = (&map.func, &map.items);
            quote::quote!(#func, #items)
        }
        Form::Pool(None) => proc_macro2::TokenStream::new(),
        form => match form.tasks() {
            Some(Tasks::List(tasks)) => quote::quote!(#(#tasks),*),
            Some(Tasks::Loop(each)) => {
                let (for_token, task) = (&each.for_token, &each.task);
                quote::quote!(#for_token #task)
            }
            None => proc_macro2::TokenStream::new(),
        },
    }
}
