//! Unit tests of parse → validate → expand on `proc_macro2` tokens.

use proc_macro2::TokenStream;
use quote::quote;

use crate::entry;
use crate::kind::MacroKind::{self, Gather, Pool, Processes, Threads};

fn expand(kind: MacroKind, input: TokenStream) -> String {
    entry(kind, quote!([::fanout] #input)).to_string()
}

fn errors(kind: MacroKind, input: TokenStream) -> Vec<String> {
    let out = entry(kind, quote!([::fanout] #input));
    let text = out.to_string();
    text.split("compile_error !")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').unwrap_or(0);
            let end = rest[start + 1..]
                .find("\" }")
                .map_or(rest.len(), |e| start + 1 + e);
            rest[start + 1..end].to_owned()
        })
        .collect()
}

#[test]
fn threads_list_spawns_named_workers() {
    let out = expand(Threads, quote!(print_numbers, worker(i)));
    assert!(out.contains("threads :: scope"), "{out}");
    assert!(
        out.contains("WorkerName :: new (\"print_numbers\")"),
        "{out}"
    );
    assert!(out.contains("WorkerName :: new (\"worker\")"), "{out}");
    // A path task is given to `spawn` as it is (it must implement `Task`);
    // any other expression becomes the body of a closure.
    assert!(out.contains("Scope :: spawn"), "{out}");
    assert!(out.contains(", print_numbers)"), "{out}");
    // Only a call clippy would call a redundant closure goes through
    // `identity` (`|| f()`, `|i| f(i)`, `|s| s.len()`).
    assert!(out.contains("| | worker (i)"), "{out}");
    assert!(out.contains("outcome :: raise"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
    let out = expand(Threads, quote!(print_numbers(), other));
    assert!(
        out.contains("| | :: core :: convert :: identity (print_numbers ())"),
        "{out}"
    );
    let out = expand(Threads, quote!(for s in texts => s.len()));
    assert!(
        out.contains("| s | :: core :: convert :: identity (s . len ())"),
        "{out}"
    );
}

#[test]
fn a_dynamic_name_is_read_once_before_the_workers() {
    let out = expand(
        Threads,
        quote!(for i in 0..3 => work(i); name = who.as_str()),
    );
    let read = out.find("WorkerName :: dynamic (& (who . as_str ()))");
    let spawn = out.find("threads :: spawn_each");
    assert!(read.is_some() && read < spawn, "{out}");
    assert_eq!(out.matches("who . as_str ()").count(), 1, "{out}");
    let out = expand(Threads, quote!(a, b; name = format!("req-{}", id)));
    assert_eq!(
        out.matches("Clone :: clone (& __fanout_name)").count(),
        2,
        "{out}"
    );
}

#[test]
fn loop_form_calls_spawn_each_with_the_pattern() {
    let out = expand(
        Threads,
        quote!(for (k, v) in pairs => work(k, v); name = "io"),
    );
    assert!(out.contains("threads :: spawn_each"), "{out}");
    assert!(out.contains("WorkerName :: new (\"io\")"), "{out}");
    assert!(out.contains("| (k , v) | work (k , v)"), "{out}");
    assert!(out.contains("unwrap_all"), "{out}");
}

#[test]
fn catch_returns_outcomes_and_try_combines() {
    let catch = expand(Threads, quote!(a, b; catch));
    assert!(!catch.contains("raise"), "{catch}");
    let try_ = expand(Threads, quote!(a, b; try));
    assert!(try_.contains("outcome :: try_error"), "{try_}");
    let both = expand(Threads, quote!(for i in 0..3 => f(i); try, catch));
    assert!(both.contains("try_catch_all"), "{both}");
}

#[test]
fn processes_use_the_process_module() {
    let out = expand(
        Processes,
        quote!(a, b; timeout = std::time::Duration::from_secs(1)),
    );
    assert!(out.contains("process :: scope"), "{out}");
    assert!(out.contains(". timeout"), "{out}");
}

#[test]
fn pool_picks_backend_and_mode() {
    // `map::Items` picks how the engine takes the items, on every backend.
    let threads = expand(Pool, quote!(square, 0..10));
    assert!(threads.contains("map :: Items :: new"), "{threads}");
    assert!(threads.contains(". select () . on_threads ("), "{threads}");
    assert!(threads.contains("map :: Unwrap"), "{threads}");
    assert!(expand(Pool, quote!(square, 0..10; catch)).contains("map :: Catch"));
    let processes = expand(Pool, quote!(square, 0..10; processes));
    assert!(
        processes.contains(". select () . on_processes ("),
        "{processes}"
    );
    let mpi = expand(Pool, quote!(square, 0..10; mpi, try));
    assert!(mpi.contains("map :: on_mpi"), "{mpi}");
    assert!(mpi.contains("map :: Try"), "{mpi}");
    let workers = expand(Pool, quote!(square, 0..10; workers = 5, chunksize = 2));
    assert!(workers.contains(". workers"), "{workers}");
    assert!(workers.contains(". chunksize"), "{workers}");
}

#[test]
fn gather_awaits_slots() {
    let out = expand(Gather, quote!(task1(), task2()));
    assert!(out.contains("gather :: Slot :: new"), "{out}");
    assert!(out.contains(". await"), "{out}");
    let each = expand(
        Gather,
        quote!(for url in urls => fetch(&client, url); limit = 2),
    );
    // Without `catch` or `try`, the outputs alone (no `Result` per future).
    assert!(each.contains("gather_outputs"), "{each}");
    assert!(each.contains(". limit"), "{each}");
}

#[test]
fn mistakes_become_spanned_errors() {
    assert!(errors(Threads, quote!())[0].contains("needs at least one task"));
    assert!(errors(Threads, quote!(a; cathc))[0].contains("did you mean `catch`"));
    assert!(errors(Threads, quote!(a; catch, catch))[0].contains("duplicate option `catch`"));
    assert!(errors(Threads, quote!(for i in 0..5 worker(i)))[0].contains("expected `=>`"));
    assert!(errors(Pool, quote!(square, 0..10; workers = 0))[0].contains("`workers = 0`"));
    assert!(errors(Pool, quote!(square))[0].contains("needs the items"));
    assert!(errors(Threads, quote!(a; timeout = d))[0].contains("cannot be cancelled"));
    assert!(errors(Threads, quote!(a; processes))[0].contains("spawn_processes!"));
    assert!(errors(Gather, quote!(a; limit = 0))[0].contains("`limit = 0`"));
    assert!(errors(Gather, quote!(a; workers = 2))[0].contains("option of pool_map!"));
    assert!(errors(Threads, quote!(a; name = 3))[0].contains("`name` takes a string"));
    assert!(errors(Threads, quote!(a; name = ""))[0].contains("cannot be empty"));
    // Any other expression is a name read at run time (its type is the
    // compiler's to check).
    assert!(errors(Threads, quote!(a; name = who.as_str())).is_empty());
    assert!(errors(Threads, quote!(a; catch = true))[0].contains("is a flag"));
    // `timeout` holds on every backend of pool_map!.
    assert!(errors(Pool, quote!(f, xs; timeout = d)).is_empty());
    let both = errors(Pool, quote!(f, xs; mpi, processes));
    assert_eq!(both.len(), 1, "{both:?}");
    assert!(both[0].contains("pick one"), "{both:?}");
}

#[test]
fn independent_mistakes_are_reported_together() {
    let found = errors(Threads, quote!(a; cathc, limit = 2, timeout = x));
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn an_error_still_expands_the_rest() {
    let out = expand(Threads, quote!(a, b; cathc));
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("threads :: scope"), "{out}");
}

/// `spawn_threads!(a, b; cathc)`: the misspelled option is reported, and the
/// expansion is the scope that `spawn_threads!(a, b)` would give, so the
/// outputs keep their types and rust-analyzer keeps completing them.
#[test]
fn a_misspelled_option_still_expands_the_scope() {
    let with_mistake = expand(Threads, quote!(a, b; cathc));
    let intended = expand(Threads, quote!(a, b));
    assert_eq!(errors(Threads, quote!(a, b; cathc)).len(), 1);
    assert!(
        with_mistake.contains(&intended[1..intended.len() - 1]),
        "{with_mistake}\n---\n{intended}"
    );
    // The same holds for each macro.
    for (kind, good, bad) in [
        (Processes, quote!(a, b), quote!(a, b; cathc)),
        (
            Pool,
            quote!(f, xs; workers = 2),
            quote!(f, xs; workers = 2, cathc),
        ),
        (Gather, quote!(a(), b()), quote!(a(), b(); cathc)),
        (
            Threads,
            quote!(for i in xs => f(i)),
            quote!(for i in xs => f(i); cathc),
        ),
    ] {
        let intended = expand(kind, good);
        let out = expand(kind, bad);
        assert!(out.contains(&intended[1..intended.len() - 1]), "{out}");
    }
}

#[test]
fn an_option_written_after_a_comma_is_reported_and_kept() {
    let found = errors(Threads, quote!(a, b, name = "io"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("options come after a `;`"), "{found:?}");
    let out = expand(Threads, quote!(a, b, name = "io"));
    assert!(out.contains("WorkerName :: new (\"io\")"), "{out}");
    assert_eq!(out.matches("Scope :: spawn").count(), 2, "{out}");
    // An assignment to a variable that is not named like an option is a task.
    assert!(errors(Threads, quote!(a, total = 3)).is_empty());
}

#[test]
fn a_racy_assignment_is_reported_once_and_left_out() {
    let found = errors(Threads, quote!(for i in 0..5 => total += i));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("data race on `total`"), "{found:?}");
    let out = expand(Threads, quote!(for i in 0..5 => total += i));
    assert!(!out.contains("total += i"), "{out}");
    assert!(out.contains("let _ = (& total , i)"), "{out}");
    let processes = errors(Processes, quote!(for i in 0..5 => total += i));
    assert!(processes[0].contains("child process"), "{processes:?}");
    // In processes a single task, and a write deep in the task, are lost too.
    let list = errors(Processes, quote!(counter += 1));
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].contains("its own copy of `counter`"), "{list:?}");
    let out = expand(
        Processes,
        quote!(counter += 1, {
            let x = 2;
            counter -= x
        }),
    );
    assert!(!out.contains("counter += 1"), "{out}");
    assert!(!out.contains("counter -= x"), "{out}");
    let pool = errors(Pool, quote!(|x: i32| total += x, 0..10));
    assert!(pool[0].contains("several threads"), "{pool:?}");
    let out = expand(Pool, quote!(|x: i32| total += x, 0..10));
    assert!(!out.contains("total += x"), "{out}");
    // The pattern's own bindings, and a single task, are fine.
    assert!(errors(Threads, quote!(for mut i in 0..5 => i += 1)).is_empty());
    assert!(errors(Threads, quote!(total += 1)).is_empty());
}

#[test]
fn refused_closures_expand_to_what_was_meant() {
    // gather! calls a closure given instead of a future.
    let out = expand(Gather, quote!(|| task(), task()));
    assert_eq!(errors(Gather, quote!(|| task(), task())).len(), 1);
    assert!(out.contains("(| | task ()) ()"), "{out}");
    // A task closure with parameters is called with arguments that never
    // exist, so that its output keeps its type.
    let out = expand(Threads, quote!(|x: u32| x * 2));
    assert!(out.contains("None . unwrap ()"), "{out}");
}

#[test]
fn an_unparsable_invocation_still_expands_to_a_value() {
    for (kind, input) in [
        (Threads, quote!(a b)),
        (Threads, quote!(for i in 0..5 worker(i))),
        (Pool, quote!(square)),
        (Gather, quote!(;)),
    ] {
        let out = expand(kind, input);
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("panic"), "{out}");
    }
}

#[test]
fn targets_without_fork_refuse_processes() {
    let no_fork = |kind: MacroKind, input: TokenStream| {
        entry(kind, quote!([::fanout; no_fork] #input)).to_string()
    };
    let processes = no_fork(Processes, quote!(a, b));
    assert!(processes.contains("processes need `fork`"), "{processes}");
    assert!(!processes.contains("process :: scope"), "{processes}");
    let pool = no_fork(Pool, quote!(square, 0..10; processes));
    assert!(pool.contains("processes need `fork`"), "{pool}");
    assert!(!pool.contains("process ::"), "{pool}");
    let threads = no_fork(Threads, quote!(a, b));
    assert!(!threads.contains("compile_error"), "{threads}");
}

/// The errors of an invocation from a facade built with the features of
/// `flags` off (`[::fanout; no_pool, no_gather]`), and the whole output.
fn with_flags(kind: MacroKind, flags: TokenStream, input: TokenStream) -> (Vec<String>, String) {
    let out = entry(kind, quote!([::fanout; #flags] #input)).to_string();
    // As in `errors`: from the literal's opening quote to its `" }`, so the
    // escaped quotes of `features = [\"pool\"]` stay inside.
    let messages = out
        .split("compile_error !")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').unwrap_or(0);
            let end = rest[start + 1..]
                .find("\" }")
                .map_or(rest.len(), |e| start + 1 + e);
            rest[start + 1..end].to_owned()
        })
        .collect();
    (messages, out)
}

#[test]
fn a_macro_whose_feature_is_off_names_the_feature() {
    let all_off = quote!(no_threads, no_pool, no_processes, no_gather, no_progress);
    for (kind, input, feature, runtime) in [
        (Threads, quote!(a, b), "threads", "threads ::"),
        (
            Processes,
            quote!(for i in 0..3 => worker(i)),
            "processes",
            "process ::",
        ),
        (Pool, quote!(square, 0..10; workers = 2), "pool", "map ::"),
        (Gather, quote!(a(), b()), "gather", "gather ::"),
    ] {
        let (errors, out) = with_flags(kind, all_off.clone(), input);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let expected = format!(
            "{} needs fanout's `{feature}` feature, which is off: add `features = [\\\"{feature}\\\"]` to the fanout dependency",
            kind.macro_name()
        );
        assert!(errors[0].starts_with(&expected), "{errors:?}\n{expected}");
        // Nothing that needs the missing runtime module.
        assert!(!out.contains(runtime), "{out}");
    }
    // Only the macro's own feature matters.
    let (errors, _) = with_flags(
        Threads,
        quote!(no_pool, no_processes, no_gather),
        quote!(a, b),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let (errors, _) = with_flags(Gather, quote!(no_threads, no_pool), quote!(a(), b()));
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn an_option_whose_feature_is_off_names_the_feature() {
    let (errors, out) = with_flags(Pool, quote!(no_processes), quote!(square, 0..10; processes));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "pool_map!(...; processes) needs fanout's `processes` feature, which is off"
        ),
        "{errors:?}"
    );
    // The best-effort expansion is the thread pool.
    assert!(!out.contains("on_processes"), "{out}");
    assert!(out.contains("on_threads"), "{out}");
    for kind in [Threads, Processes, Gather] {
        let (errors, out) = with_flags(
            kind,
            quote!(no_progress),
            quote!(for i in 0..3 => worker(i); progress),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("`progress` needs fanout's `progress` feature, which is off"),
            "{errors:?}"
        );
        assert!(
            !out.contains("progress (true)") && !out.contains(". progress"),
            "{out}"
        );
    }
    let (errors, _) = with_flags(Pool, quote!(no_progress), quote!(square, 0..10; progress));
    assert_eq!(errors.len(), 1, "{errors:?}");
    // Without `fork`, the fork error alone (not a second one for the feature).
    let (errors, _) = with_flags(Processes, quote!(no_fork, no_processes), quote!(a, b));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("processes need `fork`"), "{errors:?}");
    let (errors, _) = with_flags(
        Pool,
        quote!(no_fork, no_processes),
        quote!(f, xs; processes),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn writes_a_child_cannot_send_back_are_reported_once_each() {
    let items = errors(
        Processes,
        quote!(for row in pixels.chunks_mut(w) => fill(row)),
    );
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(
        items[0].contains("`chunks_mut` lends each task"),
        "{items:?}"
    );
    let pool = errors(
        Pool,
        quote!(|(y, row)| render(y, row), pixels.chunks_mut(w).enumerate(); processes),
    );
    assert_eq!(pool.len(), 1, "{pool:?}");
    assert!(pool[0].contains("row.copy_from_slice(&out)"), "{pool:?}");
    let borrow = errors(Processes, quote!(for i in 0..4 => fill(&mut buf, i)));
    assert_eq!(borrow.len(), 1, "{borrow:?}");
    assert!(borrow[0].contains("`&mut buf`"), "{borrow:?}");
    let out = expand(Processes, quote!(for i in 0..4 => fill(&mut buf, i)));
    assert!(!out.contains("& mut buf"), "{out}");
    let mpi = errors(Pool, quote!(|x: u32| total += x, 0..4; mpi));
    assert!(mpi[0].contains("MPI rank"), "{mpi:?}");
    // A pool function of processes is checked whole: its parameters bind
    // names, and a `move` closure's captures are its own.
    let pool = errors(Pool, quote!(|x: u32| { total += x; }, 0..4; processes));
    assert!(pool[0].contains("`let values = pool_map!"), "{pool:?}");
    assert!(
        errors(
            Pool,
            quote!(move |x: u32| { base += x; base }, 0..4; processes)
        )
        .is_empty()
    );
    // The task's own locals, and threads, are fine.
    assert!(
        errors(
            Processes,
            quote!(for i in 0..4 => { let mut n = 0; n += i; n })
        )
        .is_empty()
    );
    assert!(
        errors(
            Threads,
            quote!(for row in pixels.chunks_mut(w) => fill(row))
        )
        .is_empty()
    );
    assert!(
        errors(
            Pool,
            quote!(|(y, row)| render(y, row), pixels.chunks_mut(w).enumerate())
        )
        .is_empty()
    );
}
