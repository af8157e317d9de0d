//! Worker names given at run time (`name = EXPR`), through every macro, and
//! the names the operating system shows for fanout's workers.

use fanout::{gather, pool_map, spawn_processes, spawn_threads};

fn request_name(id: u32) -> String {
    format!("req-{id}")
}

#[test]
fn a_str_expression_names_the_workers_of_a_loop() {
    let who = request_name(7);
    let names = spawn_threads!(for _ in 0..3 => fanout::current_name(); name = who.as_str());
    assert_eq!(
        names,
        [Some("req-7-0"), Some("req-7-1"), Some("req-7-2")].map(|n| n.map(str::to_owned))
    );
    assert_eq!(fanout::current_name(), None);
}

#[test]
fn a_string_expression_names_the_tasks_of_a_list() {
    let id = 3;
    let (a, b) = spawn_threads!(
        fanout::current_name(),
        std::thread::current().name().map(str::to_owned);
        name = format!("job-{id}")
    );
    assert_eq!(a.as_deref(), Some("job-3"));
    // The OS thread is named too.
    assert_eq!(b.as_deref(), Some("job-3"));
}

#[test]
fn a_string_variable_is_borrowed_not_moved() {
    let who = String::from("batch");
    let names = spawn_threads!(for _ in 0..2 => fanout::current_name().unwrap(); name = who);
    assert_eq!(names, ["batch-0", "batch-1"]);
    // `who` is still the caller's.
    assert_eq!(who, "batch");
}

#[test]
fn the_name_is_read_once_before_any_worker_starts() {
    let reads = std::sync::atomic::AtomicUsize::new(0);
    let next = || {
        reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        "once".to_owned()
    };
    let names = spawn_threads!(for _ in 0..4 => fanout::current_name().unwrap(); name = next());
    assert_eq!(names, ["once-0", "once-1", "once-2", "once-3"]);
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_task_is_reported_under_the_dynamic_name() {
    let who = request_name(9);
    let outcomes = spawn_threads!(for i in 0..2 => {
        assert!(i != 1, "boom");
        i
    }; catch, name = who.as_str());
    assert_eq!(outcomes[0].as_ref().ok(), Some(&0));
    let error = outcomes[1].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-9-1");
    assert_eq!(error.to_string(), "worker `req-9-1` panicked: boom");
}

#[test]
fn pool_items_on_threads_carry_the_dynamic_name() {
    let who = request_name(11);
    let names =
        pool_map!(|_: u32| fanout::current_name().unwrap(), 0..4; workers = 2, name = who.as_str());
    assert_eq!(names, ["req-11-0", "req-11-1", "req-11-2", "req-11-3"]);
    let outcomes = pool_map!(|x: u32| 10 / (x - 2), 0..4; catch, name = &who);
    let error = outcomes[2].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-11-2");
    assert!(
        error.to_string().starts_with("worker `req-11-2` panicked"),
        "{error}"
    );
    // Streams too.
    let streamed: Vec<String> =
        pool_map!(|_: u32| fanout::current_name().unwrap(), 0..3; stream, name = who.clone())
            .collect();
    assert_eq!(streamed, ["req-11-0", "req-11-1", "req-11-2"]);
}

/// An item that runs a pool_map! of its own: the nested map's items run on
/// this thread too (and, while it waits, other items of the outer map), each
/// keeping its own name; after it, the outer item has its name back, and a
/// panic after it is charged to the outer item, its neighbours in place.
#[test]
fn a_pool_map_inside_a_pool_item_keeps_every_name_and_place() {
    let item = |x: u32| {
        let before = fanout::current_name().unwrap();
        let inner = pool_map!(|y: u32| (fanout::current_name().unwrap(), y), 0..60; workers = 3, name = "inner");
        for (k, (name, y)) in inner.iter().enumerate() {
            assert_eq!(
                (name.as_str(), *y as usize),
                (format!("inner-{k}").as_str(), k)
            );
        }
        assert_eq!(fanout::current_name().unwrap(), before);
        assert!(x % 7 != 3, "item {x}");
        (x, before)
    };
    let caught = pool_map!(item, 0..40; catch, workers = 4, name = "outer");
    for (k, outcome) in caught.iter().enumerate() {
        if k % 7 == 3 {
            let error = outcome.as_ref().unwrap_err();
            assert_eq!(error.worker(), format!("outer-{k}"));
            assert_eq!(error.panic_message(), Some(format!("item {k}").as_str()));
        } else {
            assert_eq!(
                outcome.as_ref().ok(),
                Some(&(k as u32, format!("outer-{k}")))
            );
        }
    }
    let plain = pool_map!(|x: u32| item(x * 7), 0..30; workers = 4, name = "outer");
    for (k, (x, name)) in plain.iter().enumerate() {
        assert_eq!(
            (*x as usize, name.as_str()),
            (7 * k, format!("outer-{k}").as_str())
        );
    }
    let failed = std::panic::catch_unwind(
        || pool_map!(|x: u32| item(x + 3), 0..2; workers = 2, name = "outer"),
    );
    let message = failed.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`outer-0`") && message.contains("item 3"),
        "{message}"
    );
}

#[test]
fn pool_items_in_processes_carry_the_dynamic_name() {
    let who = request_name(12);
    let names = pool_map!(|_: u32| fanout::current_name().unwrap(), 0..4; processes, workers = 2, name = who.as_str());
    assert_eq!(names, ["req-12-0", "req-12-1", "req-12-2", "req-12-3"]);
    let outcomes = pool_map!(|x: u32| {
        assert!(x != 1, "no ones");
        x
    }, 0..3; processes, catch, name = who.as_str());
    let error = outcomes[1].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-12-1");
    assert_eq!(error.panic_message(), Some("no ones"));
}

#[test]
fn child_processes_carry_the_dynamic_name() {
    let who = request_name(13);
    let names = spawn_processes!(for _ in 0..2 => fanout::current_name(); name = who.as_str());
    assert_eq!(names[1].as_deref(), Some("req-13-1"));
    let (ok, failed) = spawn_processes!(
        fanout::current_name(),
        || -> u32 { panic!("child failed") };
        catch, name = format!("{who}-x")
    );
    assert_eq!(ok.unwrap().as_deref(), Some("req-13-x"));
    let error = failed.unwrap_err();
    assert_eq!(error.worker(), "req-13-x");
    assert!(error.to_string().contains("`req-13-x`"), "{error}");
    assert!(error.to_string().contains("child failed"), "{error}");
}

#[test]
fn futures_carry_the_dynamic_name() {
    let who = request_name(14);
    fanout::run(async {
        let each = gather!(for _ in 0..2 => async { fanout::current_name() }; name = who.as_str());
        assert_eq!(each[1].as_deref(), Some("req-14-1"));
        let (a, b) = gather!(
            async { fanout::current_name() },
            async { fanout::current_name() };
            name = who.clone()
        );
        assert_eq!(
            (a.as_deref(), b.as_deref()),
            (Some("req-14"), Some("req-14"))
        );
        let caught = gather!(for i in 0..3 => async move {
            assert!(i != 1, "odd");
            i
        }; catch, name = who.as_str());
        assert_eq!(caught[1].as_ref().unwrap_err().worker(), "req-14-1");
        // A gather inside a future: the outer name is back after it.
        let nested = gather!(for _ in 0..2 => async {
            let inner = gather!(for _ in 0..1 => async { fanout::current_name() }; name = "inner");
            tokio::task::yield_now().await;
            (inner[0].clone(), fanout::current_name())
        }; name = who.as_str());
        assert_eq!(nested[1].0.as_deref(), Some("inner-0"));
        assert_eq!(nested[1].1.as_deref(), Some("req-14-1"));
        let spawned =
            gather!(for _ in 0..2 => async { fanout::current_name() }; spawn, name = who.as_str());
        assert_eq!(spawned[1].as_deref(), Some("req-14-1"));
        let failed = gather!(async { panic!("gone") }; catch, name = format!("{who}-f"));
        let failed: Result<(), fanout::Error> = failed;
        assert_eq!(
            failed.unwrap_err().to_string(),
            "worker `req-14-f` panicked: gone"
        );
    });
}

// What the system and panic messages call a worker's thread.

/// The calling thread's name in the system (`/proc/thread-self/comm`).
#[cfg(target_os = "linux")]
fn os_name() -> String {
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    comm.trim_end().to_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn pool_threads_go_by_the_name_of_their_map() {
    let names = pool_map!(|_: u32| os_name(), 0..8; workers = 2, name = "div");
    assert_eq!(names, ["div"; 8]);
    let who = request_name(15);
    let names = pool_map!(|_: u32| os_name(), 0..4; workers = 2, name = who.as_str());
    assert_eq!(names, ["req-15"; 4]);
    // Streams' threads, and process pools' workers, too.
    let streamed: Vec<String> =
        pool_map!(|_: u32| os_name(), 0..3; stream, name = "lines").collect();
    assert_eq!(streamed, ["lines"; 3]);
    let forked = pool_map!(|_: u32| os_name(), 0..3; processes, workers = 2, name = "crunch");
    assert_eq!(forked, ["crunch"; 3]);
}

#[cfg(target_os = "linux")]
#[test]
fn child_processes_and_threads_go_by_their_worker_name() {
    let children = spawn_processes!(for _ in 0..2 => os_name(); name = "solver");
    assert_eq!(children, ["solver-0", "solver-1"]);
    // Beyond the system's 15 bytes, the base is cut, not the index.
    let threads = spawn_threads!(for _ in 0..13 => os_name(); name = "print_numbers");
    assert_eq!(threads[3], "print_numbers-3");
    assert_eq!(threads[12], "print_number-12");
}

/// Runs the test `test` of this binary again in a child process, in `mode`,
/// and returns what it printed on stderr.
fn rerun(test: &str, mode: &str, backtrace: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("FANOUT_NAMES_CHILD", mode)
        .env("RUST_BACKTRACE", backtrace)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{mode}: {stderr}");
    stderr
}

/// Whether `stderr` has std's line for a panic of the thread `name` in this
/// file: `thread 'div-2' (12345) panicked at tests/names.rs:225:9:`.
fn reported(stderr: &str, name: &str) -> bool {
    stderr.lines().any(|line| {
        line.starts_with(&format!("thread '{name}' "))
            && line.contains(" panicked at tests/names.rs:")
    })
}

fn child_mode() -> Option<String> {
    std::env::var("FANOUT_NAMES_CHILD").ok()
}

#[test]
fn panics_are_reported_under_the_worker_name() {
    const TEST: &str = "panics_are_reported_under_the_worker_name";
    if child_mode().as_deref() != Some("report") {
        let stderr = rerun(TEST, "report", "0");
        // A pool item, on a thread of the pool.
        assert!(reported(&stderr, "div-2"), "{stderr}");
        assert!(stderr.contains("no twos"), "{stderr}");
        assert!(!stderr.contains("fanout-pool"), "{stderr}");
        // A future, polled on the caller's thread; a child process.
        assert!(reported(&stderr, "fetch"), "{stderr}");
        assert!(reported(&stderr, "solver-1"), "{stderr}");
        // While the panic is reported, the pool thread goes by the item's name.
        #[cfg(target_os = "linux")]
        assert!(stderr.contains("named while reported: div-2"), "{stderr}");
        // With a backtrace, std's short one: from the panic to the item.
        let stderr = rerun(TEST, "report", "1");
        assert!(reported(&stderr, "div-2"), "{stderr}");
        let (_, backtrace) = stderr.split_once("stack backtrace:\n").expect(&stderr);
        assert!(backtrace.starts_with("   0: "), "{stderr}");
        assert!(
            backtrace.contains("panics_are_reported_under_the_worker_name"),
            "{stderr}"
        );
        assert!(!backtrace.contains("thread_name::report"), "{stderr}");
        return;
    }
    // A map first, so that fanout's hook is set: the program's hook, set
    // after it, wraps it.
    let _ = pool_map!(|x: u32| x, 0..2);
    let fanout_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        fanout_hook(info);
        #[cfg(target_os = "linux")]
        if fanout::current_name().as_deref() == Some("div-2") {
            eprintln!("named while reported: {}", os_name());
        }
    }));
    let outcomes = pool_map!(|x: u32| {
        assert!(x != 2, "no twos");
        fanout::current_name()
    }, 0..4; workers = 1, catch, name = "div");
    assert_eq!(outcomes[2].as_ref().unwrap_err().worker(), "div-2");
    #[cfg(target_os = "linux")]
    {
        // Once the panic is caught, the map's name again.
        let after = pool_map!(|x: u32| {
            assert!(x != 0, "first");
            os_name()
        }, 0..2; workers = 1, catch, name = "div");
        assert_eq!(after[1].as_deref().ok(), Some("div"));
    }
    let future: Result<(), fanout::Error> =
        fanout::run(async { gather!(async { panic!("gone") }; catch, name = "fetch") });
    assert!(future.is_err());
    let children = spawn_processes!(for i in 0..2 => {
        assert!(i != 1, "child failed");
        i
    }; catch, name = "solver");
    assert!(children[1].is_err());
}

#[test]
fn a_hook_set_before_fanout_is_kept() {
    const TEST: &str = "a_hook_set_before_fanout_is_kept";
    if child_mode().as_deref() != Some("own-hook") {
        let stderr = rerun(TEST, "own-hook", "0");
        assert!(
            stderr.contains("the program's hook: Some(\"div-1\")"),
            "{stderr}"
        );
        // fanout leaves the report to it.
        assert!(!stderr.contains("panicked at"), "{stderr}");
        return;
    }
    std::panic::set_hook(Box::new(|_| {
        eprintln!("the program's hook: {:?}", fanout::current_name());
    }));
    let outcomes = pool_map!(|x: u32| {
        assert!(x != 1, "no ones");
        x
    }, 0..2; catch, name = "div");
    assert!(outcomes[1].is_err());
}

#[test]
fn a_forgotten_name_guard_does_not_rename_later_items() {
    // An item that enters a name and forgets the guard (a misuse): the
    // items after it in its chunk still have their own index.
    let names = pool_map!(|x: usize| {
        let n = fanout::current_name().unwrap();
        if x == 0 {
            std::mem::forget(fanout::__private::enter(fanout::WorkerName::indexed("f", 0)));
        }
        n
    }, 0..6; workers = 1, chunksize = 6, name = "f");
    assert_eq!(names, ["f-0", "f-1", "f-2", "f-3", "f-4", "f-5"]);
}

#[test]
fn an_entered_name_with_any_index_is_that_name() {
    // `enter` any name, `current_name` gives it back (usize::MAX - 1 and
    // usize::MAX were the index cell's markers).
    for big in [usize::MAX - 1, usize::MAX] {
        let guard = fanout::__private::enter(fanout::WorkerName::indexed("e", big));
        assert_eq!(fanout::current_name(), Some(format!("e-{big}")));
        drop(guard);
    }
    let big = usize::MAX - 1;
    let guard = fanout::__private::enter(fanout::WorkerName::indexed("e", big));
    assert_eq!(fanout::current_name(), Some(format!("e-{big}")));
    drop(guard);
    let inside = pool_map!(|_: u32| {
        let _g = fanout::__private::enter(fanout::WorkerName::indexed("e", big));
        fanout::current_name().unwrap()
    }, 0..3; workers = 1);
    assert_eq!(inside, vec![format!("e-{big}"); 3]);
}
