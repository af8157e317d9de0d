//! spawn_processes! and pool_map!(...; processes): forked children that
//! return typed results and survive every way a child can die.
#![cfg(unix)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use fanout::{ErrorKind, pool_map, spawn_processes};

fn pid() -> u32 {
    std::process::id()
}

fn square(x: u64) -> u64 {
    x * x
}

fn worker(i: usize) -> (usize, u32) {
    (i * 10, pid())
}

/// The message of the panic that `f` raises.
fn panic_text(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    fanout::__private::panic_message(&*payload)
}

fn segfault() -> u32 {
    // SAFETY: raising a signal is always allowed; this one kills the child.
    unsafe { libc::raise(libc::SIGSEGV) };
    0
}

// ---------------------------------------------------------------- basics

#[test]
fn outputs_come_back_in_order_from_other_processes() {
    let (a, b, c) = spawn_processes!(|| 1u8, || "two".to_owned(), pid);
    assert_eq!((a, b.as_str()), (1, "two"));
    assert_ne!(c, pid());

    let out = spawn_processes!(for i in 0..5 => worker(i));
    let values: Vec<usize> = out.iter().map(|(v, _)| *v).collect();
    assert_eq!(values, [0, 10, 20, 30, 40]);
    let pids: HashSet<u32> = out.iter().map(|(_, p)| *p).collect();
    assert_eq!(pids.len(), 5, "one process per task");
    assert!(!pids.contains(&pid()));
}

#[test]
fn current_name_in_the_child() {
    let names = spawn_processes!(for i in 0..5 => { let _ = i; fanout::current_name() });
    assert_eq!(names[3].as_deref(), Some("task-3"));
    let (a, b) = spawn_processes!(fanout::current_name(), fanout::current_name(); name = "job");
    assert_eq!((a.as_deref(), b.as_deref()), (Some("job"), Some("job")));
    assert_eq!(fanout::current_name(), None);
}

#[test]
fn large_outputs_do_not_deadlock() {
    // A String is serialized as one block of bytes: quick also in debug builds.
    let (small, eight, thirty_two) =
        spawn_processes!(|| vec![1u8; 10], || vec![8u8; 8 << 20], || "x"
            .repeat(32 << 20),);
    assert_eq!(small.len(), 10);
    assert_eq!(eight.len(), 8 << 20);
    assert!(eight.iter().all(|&b| b == 8));
    assert_eq!(thirty_two.len(), 32 << 20);
    assert!(thirty_two.bytes().all(|b| b == b'x'));
    // Many large outputs at once: each child is read while the others run.
    let many = spawn_processes!(for i in 0..4 => vec![i as u8; 1 << 20]);
    assert!(
        many.iter()
            .enumerate()
            .all(|(i, v)| v.len() == 1 << 20 && v[0] == i as u8)
    );
}

#[test]
fn tasks_capture_values_that_are_not_send() {
    let shared = Rc::new(vec![1, 2, 3]);
    let other = Rc::clone(&shared);
    let (sum, count) = spawn_processes!(|| shared.iter().sum::<i32>(), || Rc::strong_count(&other));
    assert_eq!((sum, count), (6, 2));
}

#[test]
fn a_child_cannot_change_the_callers_memory() {
    let counter = Cell::new(1);
    let log = RefCell::new(vec!["parent"]);
    let seen = spawn_processes!(|| {
        counter.set(99);
        log.borrow_mut().push("child");
        (counter.get(), log.borrow().len())
    });
    assert_eq!(seen, (99, 2), "the child sees its own changes");
    assert_eq!(counter.get(), 1, "the caller does not");
    assert_eq!(*log.borrow(), ["parent"]);
}

// ---------------------------------------------------------------- failures

#[test]
fn every_way_to_die_is_caught_with_its_cause() {
    let (ok, panicked, aborted, exited, segv) = spawn_processes!(
        || 7,
        || -> u32 { panic!("boom {}", 42) },
        || -> u32 { std::process::abort() },
        || -> u32 { std::process::exit(3) },
        segfault;
        catch
    );
    assert_eq!(ok.unwrap(), 7);

    let panicked = panicked.unwrap_err();
    assert_eq!(panicked.panic_message(), Some("boom 42"));
    assert!(panicked.pid().is_some_and(|p| p != pid()));
    let text = panicked.to_string();
    assert!(text.starts_with("worker `task` (pid "), "{text}");
    assert!(text.ends_with(") panicked: boom 42"), "{text}");

    let aborted = aborted.unwrap_err();
    assert_eq!(*aborted.kind(), ErrorKind::Signal(libc::SIGABRT));
    assert!(
        aborted.to_string().ends_with("was killed by SIGABRT"),
        "{aborted}"
    );

    let exited = exited.unwrap_err();
    assert_eq!(*exited.kind(), ErrorKind::Exit(3));
    assert!(
        exited.to_string().ends_with("exited with code 3"),
        "{exited}"
    );

    let segv = segv.unwrap_err();
    assert_eq!(*segv.kind(), ErrorKind::Signal(libc::SIGSEGV));
    let text = segv.to_string();
    assert!(text.starts_with("worker `segfault` (pid "), "{text}");
    assert!(text.ends_with("was killed by SIGSEGV"), "{text}");
}

#[test]
fn without_catch_the_caller_panics_naming_worker_pid_and_cause() {
    type Case = (fn() -> u32, &'static str);
    let cases: [Case; 4] = [
        (|| panic!("boom"), "panicked: boom"),
        (|| std::process::abort(), "was killed by SIGABRT"),
        (|| std::process::exit(3), "exited with code 3"),
        (segfault, "was killed by SIGSEGV"),
    ];
    for (task, cause) in cases {
        let message = panic_text(|| {
            let _ = spawn_processes!(task);
        });
        assert!(message.starts_with("worker `task` (pid "), "{message}");
        assert!(message.ends_with(cause), "{message}");
    }
}

#[test]
fn without_catch_the_panic_comes_after_every_child_ended() {
    let start = Instant::now();
    let message = panic_text(|| {
        let _ = spawn_processes!(for i in 0..4 => {
            if i == 1 {
                panic!("first");
            }
            std::thread::sleep(Duration::from_millis(300));
            i
        });
    });
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(message.starts_with("worker `task-1` (pid "), "{message}");
    assert!(message.ends_with("panicked: first"), "{message}");
}

#[test]
fn loop_form_with_catch_keeps_the_others() {
    let out = spawn_processes!(for i in 0..4 => {
        if i == 2 {
            std::process::exit(9);
        }
        i * 2
    }; catch, name = "worker");
    assert_eq!(out[0].as_ref().ok(), Some(&0));
    assert_eq!(out[3].as_ref().ok(), Some(&6));
    let failure = out[2].as_ref().unwrap_err();
    assert_eq!(failure.worker(), "worker-2");
    assert_eq!(*failure.kind(), ErrorKind::Exit(9));
}

#[test]
fn timeout_kills_and_reaps_the_slow_child() {
    let start = Instant::now();
    let (fast, slow) = spawn_processes!(
        || 1,
        || { std::thread::sleep(Duration::from_secs(10)); 2 };
        catch, timeout = Duration::from_millis(200)
    );
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(fast.unwrap(), 1);
    let slow = slow.unwrap_err();
    assert!(slow.is_timeout(), "{slow}");
    assert!(slow.to_string().contains("timed out after 200ms"), "{slow}");
    let slow_pid = slow.pid().expect("a pid");
    assert!(!is_child(slow_pid), "the killed child was reaped");
}

#[test]
fn timeout_without_catch_panics() {
    let message = panic_text(|| {
        spawn_processes!(
            || std::thread::sleep(Duration::from_secs(10));
            timeout = Duration::from_millis(100)
        );
    });
    assert!(message.contains("timed out after 100ms"), "{message}");
}

#[test]
fn try_option_returns_the_first_error() {
    let all: Result<(u32, u32), String> =
        spawn_processes!(|| Ok::<u32, String>(1), || Err::<u32, String>("no".into()); try);
    assert_eq!(all, Err("no".to_owned()));
    let each: Result<Vec<usize>, String> =
        spawn_processes!(for i in 0..3 => if i < 5 { Ok(i) } else { Err("big".to_owned()) }; try);
    assert_eq!(each, Ok(vec![0, 1, 2]));
}

// ---------------------------------------------------------------- processes

/// The state of process `pid` if it is a child of this process (from /proc).
fn child_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces, so split after ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid: u32 = fields.next()?.parse().ok()?;
    (ppid == pid_of_self()).then_some(state)
}

fn pid_of_self() -> u32 {
    pid()
}

fn is_child(pid: u32) -> bool {
    cfg!(target_os = "linux") && child_state(pid).is_some()
}

#[test]
#[cfg(target_os = "linux")]
fn no_zombies_after_many_rounds() {
    let mut pids = BTreeSet::new();
    for round in 0..50 {
        let (a, b) = spawn_processes!(pid, || -> u32 {
            if round % 3 == 0 {
                std::process::abort()
            }
            pid()
        }; catch);
        pids.insert(a.unwrap());
        if let Ok(b) = b {
            pids.insert(b);
        }
        let _ =
            spawn_processes!(for i in 0..2 => { if i == 1 { std::process::exit(2) } pid() }; catch);
    }
    let zombies: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&p| child_state(p) == Some('Z'))
        .collect();
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
    let alive: Vec<u32> = pids.iter().copied().filter(|&p| is_child(p)).collect();
    assert!(alive.is_empty(), "children left: {alive:?}");
}

#[test]
fn a_background_thread_printing_does_not_hang_the_children() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let printer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Bursts, so that the lock is often held, but the test
                // harness's capture buffer stays small.
                for _ in 0..50 {
                    println!("background line {n}");
                    eprint!("e");
                    n += 1;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    let start = Instant::now();
    for round in 0..150 {
        let (a, b) = spawn_processes!(
            || { println!("child a {round}"); eprintln!("child a err"); 1 },
            || { print!("child b {round}"); 2 };
            timeout = Duration::from_secs(20)
        );
        assert_eq!((a, b), (1, 2));
    }
    stop.store(true, Ordering::Relaxed);
    printer.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// Run by `buffered_stdout_is_not_duplicated` in a copy of this test binary.
#[test]
fn buffered_stdout_scenario() {
    if std::env::var_os("FANOUT_BUFFERED_STDOUT_SCENARIO").is_none() {
        return;
    }
    print!("partial-line-before-fork");
    let (a, b) = spawn_processes!(|| 1, || 2);
    let _ = spawn_processes!(for i in 0..3 => { i });
    let _ = pool_map!(square, 0..8; processes, workers = 2);
    println!(" then {a} {b}");
}

#[test]
fn buffered_stdout_is_not_duplicated() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "buffered_stdout_scenario",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FANOUT_BUFFERED_STDOUT_SCENARIO", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches("partial-line-before-fork").count(),
        1,
        "{stdout}"
    );
    assert_eq!(stdout.matches(" then 1 2").count(), 1, "{stdout}");
}

/// An item whose destructor prints and forks: it runs in the parent once the
/// item's child is forked.
struct Noisy(u32);

impl Drop for Noisy {
    fn drop(&mut self) {
        println!("dropping item {}", self.0);
        eprintln!("dropping item {} (stderr)", self.0);
        let nested = spawn_processes!(for k in 0..1u32 => k + 1; timeout = Duration::from_secs(20));
        assert_eq!(nested, [1]);
    }
}

/// A process alone at its first fork keeps what a fork holds (the fork lock,
/// the stdio locks) from one child of a loop to the next. A forked child is
/// such a process (the harness runs each test on a thread of its own): in
/// one, every lock must still be free where code runs, in the parent between
/// two forks (an item's destructor that prints and forks) and in each child
/// (a thread of its own that prints, whose process must release its copy of
/// the locks). Run by the test below in a copy of this binary, without the
/// harness's output capture, so that printing takes the real locks.
#[test]
fn alone_loop_scenario() {
    if std::env::var_os("FANOUT_ALONE_LOOP_SCENARIO").is_none() {
        return;
    }
    let sums = spawn_processes!(|| {
        let items: Vec<Noisy> = (0..6).map(Noisy).collect();
        let doubled = spawn_processes!(for item in items => {
            let printed = fanout::spawn_threads!(|| {
                println!("a thread of the child of item {} prints", item.0);
                eprintln!("and writes to stderr");
                1u32
            });
            item.0 * 2 + printed
        }; timeout = Duration::from_secs(10));
        let plain = spawn_processes!(for i in 0..20u32 => {
            println!("child {i}");
            i
        }; timeout = Duration::from_secs(10));
        (doubled, plain.iter().sum::<u32>())
    };
    timeout = Duration::from_secs(20));
    assert_eq!(sums, ([1, 3, 5, 7, 9, 11].to_vec(), 190));
    println!("scenario done");
}

#[test]
fn a_process_alone_forks_a_loop_in_a_row_and_leaves_every_lock_free_where_code_runs() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "alone_loop_scenario",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FANOUT_ALONE_LOOP_SCENARIO", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let count = |text: &str, what: &str| text.matches(what).count();
    assert_eq!(count(&stdout, "scenario done"), 1, "{stdout}");
    assert_eq!(
        count(&stdout, "a thread of the child of item"),
        6,
        "{stdout}"
    );
    assert_eq!(count(&stderr, "and writes to stderr"), 6, "{stderr}");
    // Each item is dropped twice: the parent's copy once its child is
    // forked, and the child's at the end of its task.
    assert_eq!(count(&stdout, "dropping item"), 12, "{stdout}");
    assert_eq!(count(&stderr, "(stderr)"), 12, "{stderr}");
    for i in 0..20 {
        assert_eq!(count(&stdout, &format!("child {i}\n")), 1, "{stdout}");
    }
}

// ---------------------------------------------------------------- pool

#[test]
fn pool_maps_in_order() {
    let squares = pool_map!(square, 0..10; processes, workers = 5);
    assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    let big = pool_map!(square, 0..100_000u64; processes, workers = 2);
    assert_eq!(big.len(), 100_000);
    assert!(
        big.iter()
            .enumerate()
            .all(|(k, &v)| v == (k as u64) * (k as u64))
    );
}

#[test]
fn pool_items_and_function_need_not_be_send() {
    let offset = Rc::new(100u64);
    let items: Vec<Rc<u64>> = (0..6).map(Rc::new).collect();
    let out = pool_map!(|x: Rc<u64>| *x + *offset, items; processes, workers = 3);
    assert_eq!(out, [100, 101, 102, 103, 104, 105]);
}

#[test]
fn pool_worker_bound() {
    let pids = pool_map!(|_: u32| { std::thread::sleep(Duration::from_millis(5)); pid() }, 0..40; processes, workers = 3);
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    assert!(!distinct.is_empty() && distinct.len() <= 3, "{distinct:?}");
    assert!(!distinct.contains(&pid()));
}

#[test]
fn pool_chunks_run_in_one_worker() {
    let pids = pool_map!(|_: u32| pid(), 0..20; processes, workers = 2, chunksize = 5);
    for chunk in pids.chunks(5) {
        assert!(chunk.iter().all(|&p| p == chunk[0]), "{pids:?}");
    }
    let names = pool_map!(|_: u32| fanout::current_name().unwrap(), 0..4; processes, name = "job");
    assert_eq!(names, ["job-0", "job-1", "job-2", "job-3"]);
}

#[test]
fn pool_replaces_a_crashed_worker_and_fails_only_its_item() {
    let out = pool_map!(|x: u32| {
        if x == 7 {
            segfault();
        }
        (x, pid())
    }, 0..20; processes, workers = 2, chunksize = 5, catch, name = "square");
    for (k, outcome) in out.iter().enumerate() {
        if k != 7 {
            assert_eq!(outcome.as_ref().map(|(x, _)| *x).ok(), Some(k as u32));
        }
    }
    let failure = out[7].as_ref().unwrap_err();
    assert_eq!(failure.worker(), "square-7");
    assert_eq!(*failure.kind(), ErrorKind::Signal(libc::SIGSEGV));
    assert!(
        failure.to_string().ends_with("was killed by SIGSEGV"),
        "{failure}"
    );
    // The replacement ran the rest of the crashed chunk.
    let pids: HashSet<u32> = out.iter().flatten().map(|(_, p)| *p).collect();
    assert!(pids.len() >= 2 && pids.len() <= 3, "{pids:?}");
}

#[test]
fn pool_failures_without_catch_panic_with_the_lowest_failure() {
    let message = panic_text(|| {
        let _ = pool_map!(|x: u32| {
            match x {
                3 => panic!("three"),
                5 => std::process::abort(),
                _ => x,
            }
        }, 0..8; processes, workers = 2, name = "item");
    });
    // The failure of the lowest index, whatever else failed.
    assert!(message.starts_with("worker `item-3` (pid "), "{message}");
    assert!(message.ends_with("panicked: three"), "{message}");
}

#[test]
fn pool_empty_input_forks_nothing() {
    let before = pid();
    let out: Vec<u64> = pool_map!(square, Vec::<u64>::new(); processes);
    assert!(out.is_empty());
    let calls = Cell::new(0);
    let out = pool_map!(|x: u64| { calls.set(calls.get() + 1); x }, 0..0u64; processes, catch);
    assert!(out.is_empty());
    assert_eq!((calls.get(), pid()), (0, before));
}

#[test]
fn pool_timeout() {
    let start = Instant::now();
    let out = pool_map!(|x: u64| {
        if x == 1 {
            std::thread::sleep(Duration::from_secs(10));
        }
        x
    }, 0..4; processes, workers = 2, chunksize = 1, catch, timeout = Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(out[1].as_ref().unwrap_err().is_timeout());
    assert_eq!(out[0].as_ref().ok(), Some(&0));
}

#[test]
fn pool_try_stops_later_items() {
    let parsed: Result<Vec<i32>, String> = pool_map!(
        |s: &str| s.parse::<i32>().map_err(|e| format!("{s}: {e}")),
        ["1", "2", "x", "4", "y"];
        processes, workers = 2, chunksize = 1, try
    );
    assert_eq!(parsed, Err("x: invalid digit found in string".to_owned()));
    // The runtime without the macro: nothing after the failed item starts.
    let ran = Rc::new(Cell::new(0));
    let each: Result<Vec<u32>, String> = fanout::map::on_processes(
        &fanout::map::MapOptions::new().workers(1).chunksize(1),
        fanout::map::Try,
        fanout::WorkerName::new("check"),
        0..40u32,
        |k| {
            ran.set(ran.get() + 1);
            if k == 3 {
                Err(format!("bad {k}"))
            } else {
                Ok(k)
            }
        },
    );
    assert_eq!(each, Err("bad 3".to_owned()));
    assert_eq!(ran.get(), 0, "the items ran in the workers, not here");
}

#[test]
fn pool_items_from_ranges_are_computed_in_the_workers() {
    use fanout::map::{Catch, Items, MapOptions, Unwrap, autoref::*};
    let options = MapOptions::new().workers(2).chunksize(3);
    let name = fanout::WorkerName::new("shift");
    let shifted =
        (&&Items::new(-5i32..5))
            .select()
            .on_processes(&options, Unwrap, name.clone(), |x| {
                (x, fanout::current_name().unwrap())
            });
    assert_eq!(shifted.len(), 10);
    assert_eq!(shifted[0], (-5, "shift-0".to_owned()));
    assert_eq!(shifted[9], (4, "shift-9".to_owned()));
    let strings = (&&Items::new(vec!["a", "b"])).select().on_processes(
        &options,
        Catch,
        name.clone(),
        str::to_uppercase,
    );
    assert_eq!(strings[1].as_deref().ok(), Some("B"));
    let none = (&&Items::new(7u8..7))
        .select()
        .on_processes(&options, Unwrap, name, |x| x);
    assert!(none.is_empty());
}

#[test]
fn timeline_and_progress_options_run() {
    let (a, b) = spawn_processes!(|| 1, || 2; timeline);
    assert_eq!((a, b), (1, 2));
    let each = spawn_processes!(for i in 0..3 => i * 2; timeline, progress);
    assert_eq!(each, [0, 2, 4]);
    let squares = pool_map!(square, 0..20u64; processes, workers = 2, timeline, progress);
    assert_eq!(squares[19], 361);
}

// ---------------------------------------------------------------- race

fn children_of_this_process() -> Vec<u32> {
    let me = std::process::id();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: the fields after the last `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            children.push(pid);
        }
    }
    children
}

#[test]
fn race_returns_the_first_and_kills_and_reaps_the_others() {
    let marker = std::env::temp_dir().join(format!("fanout-race-{}", pid()));
    let _ = std::fs::remove_file(&marker);
    let start = Instant::now();
    let fastest = spawn_processes!(
        || {
            std::thread::sleep(Duration::from_millis(500));
            std::fs::write(&marker, b"the loser ran on").unwrap();
            "slow".to_owned()
        },
        || "fast".to_owned();
        race
    );
    assert_eq!(fastest, "fast");
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    std::thread::sleep(Duration::from_millis(700));
    assert!(!marker.exists(), "the losing child went on after the race");
    let _ = std::fs::remove_file(&marker);
    // The loop form, and a 10 s loser: killed and reaped at once.
    let start = Instant::now();
    let winner = spawn_processes!(for i in [10_000u64, 1] => {
        std::thread::sleep(Duration::from_millis(i));
        i
    }; race);
    assert_eq!(winner, 1);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn race_with_try_catch_and_timeout() {
    let first_ok: Result<u32, String> = spawn_processes!(
        || -> Result<u32, String> { Err("fast but wrong".into()) },
        || {
            std::thread::sleep(Duration::from_millis(100));
            Ok(7)
        };
        race, try
    );
    assert_eq!(first_ok, Ok(7));
    let all_failed: Result<u32, String> = spawn_processes!(
        || -> Result<u32, String> {
            std::thread::sleep(Duration::from_millis(100));
            Err("first".into())
        },
        || -> Result<u32, String> { Err("second".into()) };
        race, try
    );
    assert_eq!(
        all_failed,
        Err("first".to_owned()),
        "the error of the lowest index"
    );
    let timed_out = spawn_processes!(
        || std::thread::sleep(Duration::from_secs(10)),
        || std::thread::sleep(Duration::from_secs(10));
        race, catch, timeout = Duration::from_millis(200)
    );
    assert!(timed_out.unwrap_err().is_timeout());
    let panicked = spawn_processes!(|| -> u8 { panic!("lost") }, || 3u8; race, catch);
    assert_eq!(panicked.unwrap(), 3, "a panicking task never wins");
}

#[test]
fn a_race_leaves_no_child_behind() {
    // In a copy of this binary with nothing else running, so that any child
    // left is the race's.
    if std::env::var_os("FANOUT_RACE_ALONE").is_some() {
        for _ in 0..5 {
            spawn_processes!(|| std::thread::sleep(Duration::from_secs(30)), || (); race);
        }
        let left = children_of_this_process();
        assert!(left.is_empty(), "children left: {left:?}");
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_race_leaves_no_child_behind",
            "--test-threads=1",
        ])
        .env("FANOUT_RACE_ALONE", "1")
        .status()
        .unwrap();
    assert!(status.success());
}

// ---------------------------------------------------------------- fast paths
//
// The pool frames numbers on the stack and reads them in line; its ring is
// mapped 64 KiB at a time and wraps at 1 MiB; spawn_processes! children
// take a buffer made in the parent. Every value must come back exact.

/// Integers around every MessagePack width boundary, as far as `T` holds them.
fn boundary_integers<T: TryFrom<i128>>() -> Vec<T> {
    let mut wide: Vec<i128> = vec![
        0,
        1,
        -1,
        -31,
        -32,
        -33,
        126,
        127,
        128,
        129,
        255,
        256,
        -127,
        -128,
        -129,
        32767,
        32768,
        -32768,
        -32769,
        65535,
        65536,
        i128::from(i32::MAX),
        i128::from(i32::MIN),
        i128::from(i32::MIN) - 1,
        i128::from(u32::MAX),
        i128::from(u32::MAX) + 1,
        i128::from(i64::MAX),
        i128::from(i64::MIN),
        i128::from(u64::MAX),
        i128::from(u64::MAX) - 1,
    ];
    for bits in [8u32, 16, 32, 64] {
        wide.extend([
            (1i128 << bits) - 1,
            1i128 << (bits - 1),
            -(1i128 << (bits - 1)),
        ]);
    }
    wide.into_iter()
        .filter_map(|v| T::try_from(v).ok())
        .collect()
}

/// `values` mapped by index on processes in every shape of the pool (plain,
/// catch, try, chunksize, one worker, recycle), on threads, through process
/// streams (as items and as outputs) and spawn_processes!: all the same.
macro_rules! same_everywhere {
    ($ty:ty, $values:expr, $eq:expr) => {{
        let values: Vec<$ty> = $values;
        let eq = $eq;
        let n = values.len();
        let v = &values;
        let same = |got: &[$ty], how: &str| {
            assert_eq!(got.len(), n, "{} {how}", stringify!($ty));
            for (k, (a, b)) in got.iter().zip(v.iter()).enumerate() {
                assert!(eq(a, b), "{} {how}: item {k}: got {a:?}, sent {b:?}", stringify!($ty));
            }
        };
        same(&pool_map!(|k: usize| v[k], 0..n; processes, workers = 2), "plain");
        same(&pool_map!(|k: usize| v[k], 0..n; processes, workers = 1), "one worker");
        same(&pool_map!(|k: usize| v[k], 0..n; processes, workers = 3, chunksize = 4), "chunksize");
        same(&pool_map!(|k: usize| v[k], 0..n; processes, workers = 2, recycle = 3), "recycle");
        let caught: Vec<$ty> = pool_map!(|k: usize| v[k], 0..n; processes, workers = 2, catch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        same(&caught, "catch");
        let tried: Result<Vec<$ty>, String> =
            pool_map!(|k: usize| Ok::<$ty, String>(v[k]), 0..n; processes, workers = 2, try);
        same(&tried.unwrap(), "try");
        same(&pool_map!(|k: usize| v[k], 0..n; workers = 2), "threads");
        let streamed: Vec<$ty> =
            pool_map!(|x: $ty| x, values.clone(); processes, stream, workers = 2).collect();
        same(&streamed, "stream (items and outputs)");
        let mut unordered: Vec<(usize, $ty)> =
            pool_map!(|x: $ty| x, values.clone(); processes, unordered, workers = 2).collect();
        unordered.sort_by_key(|(k, _)| *k);
        let unordered: Vec<$ty> = unordered.into_iter().map(|(_, x)| x).collect();
        same(&unordered, "unordered");
        same(&spawn_processes!(for k in 0..n => v[k]), "spawn_processes!");
    }};
}

#[test]
fn every_integer_width_comes_back_exact_at_its_boundaries() {
    same_everywhere!(u8, boundary_integers(), |a: &u8, b: &u8| a == b);
    same_everywhere!(u16, boundary_integers(), |a: &u16, b: &u16| a == b);
    same_everywhere!(u32, boundary_integers(), |a: &u32, b: &u32| a == b);
    same_everywhere!(u64, boundary_integers(), |a: &u64, b: &u64| a == b);
    same_everywhere!(usize, boundary_integers(), |a: &usize, b: &usize| a == b);
    same_everywhere!(i8, boundary_integers(), |a: &i8, b: &i8| a == b);
    same_everywhere!(i16, boundary_integers(), |a: &i16, b: &i16| a == b);
    same_everywhere!(i32, boundary_integers(), |a: &i32, b: &i32| a == b);
    same_everywhere!(i64, boundary_integers(), |a: &i64, b: &i64| a == b);
    same_everywhere!(isize, boundary_integers(), |a: &isize, b: &isize| a == b);
    // Not on the fast path (serde): the same boundaries, and beyond.
    let mut wide: Vec<i128> = boundary_integers();
    wide.extend([i128::MIN, i128::MAX, i128::MIN + 1]);
    same_everywhere!(i128, wide, |a: &i128, b: &i128| a == b);
    let mut wide: Vec<u128> = boundary_integers();
    wide.extend([u128::MAX, u128::MAX - 1]);
    same_everywhere!(u128, wide, |a: &u128, b: &u128| a == b);
}

#[test]
fn floats_and_bools_come_back_bit_for_bit() {
    let doubles: Vec<f64> = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001), // a signalling NaN
        f64::from_bits(0x7ff8_dead_beef_0001), // a NaN with a payload
        f64::from_bits(1),                     // the least subnormal
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        127.0,
        128.0,
        -33.0,
    ]
    .into();
    same_everywhere!(f64, doubles, |a: &f64, b: &f64| a.to_bits() == b.to_bits());
    let singles: Vec<f32> = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7fc0_1234),
        f32::from_bits(1),
        f32::MAX,
        f32::MIN,
    ]
    .into();
    same_everywhere!(f32, singles, |a: &f32, b: &f32| a.to_bits() == b.to_bits());
    same_everywhere!(
        bool,
        vec![true, false, false, true, true],
        |a: &bool, b: &bool| a == b
    );
    // Scalars inside other values go through serde: the same bits.
    let pairs: Vec<(u8, i64, f64, bool)> = vec![
        (255, i64::MIN, -0.0, true),
        (128, -33, f64::NAN, false),
        (0, i64::MAX, f64::INFINITY, true),
    ];
    same_everywhere!(
        (u8, i64, f64, bool),
        pairs,
        |a: &(u8, i64, f64, bool), b: &(u8, i64, f64, bool)| {
            (a.0, a.1, a.2.to_bits(), a.3) == (b.0, b.1, b.2.to_bits(), b.3)
        }
    );
    same_everywhere!(
        Option<u8>,
        vec![None, Some(0), Some(255), Some(128)],
        |a: &Option<u8>, b: &Option<u8>| a == b
    );
    same_everywhere!(
        char,
        vec!['\0', 'a', '\u{10ffff}', 'é'],
        |a: &char, b: &char| a == b
    );
}

/// Byte `j` of output `k`: every byte depends on both, so a byte copied from
/// the wrong place (a window, a wrap, another item) shows.
fn pattern(k: usize, j: usize) -> u8 {
    ((j as u32).wrapping_mul(2_654_435_761) >> 24) as u8
        ^ (k as u8).wrapping_mul(37)
        ^ (j >> 12) as u8
}

fn patterned(k: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| pattern(k, j)).collect()
}

fn check_patterned(outputs: &[Vec<u8>], lens: &[usize], how: &str) {
    assert_eq!(outputs.len(), lens.len(), "{how}");
    for (k, (out, &len)) in outputs.iter().zip(lens).enumerate() {
        assert_eq!(out.len(), len, "{how}: item {k}'s length");
        if let Some(j) = (0..len).find(|&j| out[j] != pattern(k, j)) {
            panic!("{how}: item {k} ({len} bytes) differs at byte {j}");
        }
    }
}

#[test]
fn byte_outputs_landing_on_the_rings_windows_and_wrap_come_back_exact() {
    // A `Vec<u8>` output's frame is 9 + 1 + len bytes; with one worker the
    // frames lie end to end from the ring's start, so these lengths put frame
    // ends just before, on and just after each 64 KiB window and the 1 MiB
    // wrap, and one frame spans the whole ring and more.
    const WINDOW: usize = 64 << 10;
    const RING: usize = 1 << 20;
    const FRAME: usize = 10;
    let mut lens = vec![WINDOW - FRAME - 1, 0, 1 - 1, WINDOW - FRAME + 1 - 1];
    // Now at 2 * WINDOW - 1 ... step over the next windows one byte off.
    lens.extend([FRAME - FRAME, 1, WINDOW - FRAME - 2, WINDOW - FRAME]);
    let mut at: usize = lens.iter().map(|l| l + FRAME).sum();
    // Up to 3 bytes before the wrap, then across it in small pieces.
    let to_wrap = RING - 3 - at;
    lens.push(to_wrap - FRAME);
    at += to_wrap;
    assert_eq!(at, RING - 3);
    lens.extend([0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 31, 32, 33]);
    // A frame longer than the ring, then one exactly the ring's size, then
    // small ones again.
    lens.extend([RING + 12_345, RING - FRAME, 3, RING - FRAME - 1, 100]);
    let lens = &lens;
    let how_many = lens.len();
    let one = pool_map!(|k: usize| patterned(k, lens[k]), 0..how_many; processes, workers = 1);
    check_patterned(&one, lens, "one worker");
    let chunked = pool_map!(|k: usize| patterned(k, lens[k]), 0..how_many; processes, workers = 2, chunksize = 3);
    check_patterned(&chunked, lens, "two workers");
    let caught: Vec<Vec<u8>> =
        pool_map!(|k: usize| patterned(k, lens[k]), 0..how_many; processes, workers = 1, catch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
    check_patterned(&caught, lens, "catch");
}

#[test]
fn mixed_sizes_many_times_round_the_ring_come_back_exact() {
    // Lengths that drift across every offset of the windows and the wrap,
    // about 7 MiB in all through a 1 MiB ring.
    let lens: Vec<usize> = (0..400usize)
        .map(|k| (k * 7919 + k * k * 13) % 40_000)
        .collect();
    let lens = &lens;
    let total: usize = lens.iter().sum();
    assert!(total > 6 << 20, "{total}");
    let out = pool_map!(|k: usize| patterned(k, lens[k]), 0..400usize; processes, workers = 2, chunksize = 7);
    check_patterned(&out, lens, "mixed");
}

#[test]
fn numbers_of_every_width_round_the_ring_come_back_exact() {
    // Frames of 10 to 18 bytes, ~250 000 of them: 3 MiB, three wraps, every
    // frame offset against the wrap and the windows.
    let value = |k: u64| -> i64 {
        let spread = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let width = k % 9;
        let v = (spread >> (width * 7)) as i64;
        if k.is_multiple_of(2) {
            v
        } else {
            v.wrapping_neg()
        }
    };
    let n = 250_000u64;
    let out = pool_map!(value, 0..n; processes, workers = 1);
    assert_eq!(out.len(), n as usize);
    if let Some(k) = (0..n).find(|&k| out[k as usize] != value(k)) {
        panic!("item {k}: got {}, expected {}", out[k as usize], value(k));
    }
}

/// An output whose decoding in the parent is slow: the workers fill the
/// ring while the parent reads, and must wait for room.
#[derive(Debug, serde::Serialize)]
struct SlowToRead(#[serde(with = "serde_bytes")] Vec<u8>);

impl<'de> serde::Deserialize<'de> for SlowToRead {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        std::thread::sleep(Duration::from_millis(2));
        serde_bytes::ByteBuf::deserialize(d).map(|b| SlowToRead(b.into_vec()))
    }
}

#[test]
fn a_slow_parent_makes_the_workers_wait_and_loses_nothing() {
    let lens: Vec<usize> = (0..60usize).map(|k| 50_000 + k * 997).collect();
    let lens = &lens;
    let out =
        pool_map!(|k: usize| SlowToRead(patterned(k, lens[k])), 0..60usize; processes, workers = 2);
    let out: Vec<Vec<u8>> = out.into_iter().map(|s| s.0).collect();
    check_patterned(&out, lens, "slow parent");
}

/// Where items note that they ran: one line per run, appended by each
/// worker process.
fn run_log(tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("fanout-adv-{tag}-{}", pid()));
    let _ = std::fs::remove_file(&path);
    path
}

fn note_run(path: &std::path::Path, k: usize) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(format!("{k} {}\n", pid()).as_bytes())
        .unwrap();
}

/// The items that ran, sorted, and the processes they ran in (none of which
/// may be left unreaped).
fn runs(path: &std::path::Path) -> Vec<usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    let mut runs = Vec::new();
    for line in text.lines() {
        let (k, pid) = line.split_once(' ').unwrap();
        let pid: u32 = pid.parse().unwrap();
        assert!(!is_child(pid), "worker {pid} left unreaped");
        runs.push(k.parse().unwrap());
    }
    runs.sort_unstable();
    runs
}

#[test]
fn a_worker_dying_right_after_answering_loses_nothing_and_runs_nothing_twice() {
    for (tag, chunk) in [("after-a", 1usize), ("after-b", 4), ("after-c", 50)] {
        let log = run_log(tag);
        let log = &log;
        let crash = [5usize, 6, 17, 40];
        let out = pool_map!(|k: usize| {
            note_run(log, k);
            if crash.contains(&k) {
                // The answer of the item before is published; this one dies
                // at once, with its own answer never made.
                // SAFETY: ends this (worker) process at once.
                unsafe { libc::_exit(3) };
            }
            (k as u64) * 1_000_003
        }, 0..60usize; processes, workers = 2, chunksize = chunk, catch);
        for (k, outcome) in out.iter().enumerate() {
            if crash.contains(&k) {
                let error = outcome.as_ref().unwrap_err();
                assert_eq!(
                    *error.kind(),
                    ErrorKind::Exit(3),
                    "chunk {chunk} item {k}: {error}"
                );
            } else {
                assert_eq!(
                    outcome.as_ref().ok(),
                    Some(&((k as u64) * 1_000_003)),
                    "chunk {chunk} item {k}"
                );
            }
        }
        assert_eq!(
            runs(log),
            (0..60).collect::<Vec<_>>(),
            "chunk {chunk}: each item ran once"
        );
    }
}

#[test]
fn a_pool_ends_promptly_while_another_thread_forks() {
    // Pool `slow`, on another thread, forks its workers while this thread's
    // pool runs: they are copies of this process, with this pool's sockets
    // in them, and live on after this pool ends.
    let slow = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        pool_map!(|_: u32| std::thread::sleep(Duration::from_millis(300)), 0..2u32; processes, workers = 2)
    });
    let started = Instant::now();
    let out = pool_map!(|x: u64| {
        std::thread::sleep(Duration::from_millis(50));
        x + 1
    }, 0..2u64; processes, workers = 2, chunksize = 1);
    let took = started.elapsed();
    slow.join().unwrap();
    assert_eq!(out, [1, 2]);
    // About 50 ms; over 300 ms when each worker waits for the slow pool's
    // workers to end (or its 200 ms of grace) before it is killed.
    assert!(took < Duration::from_millis(200), "took {took:?}");
}

#[test]
fn outputs_of_every_size_around_the_childs_buffer_and_the_pipe_come_back_exact() {
    // The child's message buffer has room for 256 bytes before it grows; a
    // pipe holds 64 KiB.
    for len in [
        0usize,
        1,
        200,
        245,
        246,
        247,
        255,
        256,
        257,
        4095,
        4096,
        65535,
        65536,
        65537,
        1 << 20,
    ] {
        let (bytes, text, number) =
            spawn_processes!(|| patterned(len, len), || "é".repeat(len / 2), || len
                as u64
                * 3);
        assert_eq!(bytes, patterned(len, len), "{len} bytes");
        assert_eq!(text, "é".repeat(len / 2), "{len}: text");
        assert_eq!(number, len as u64 * 3);
        let each = spawn_processes!(for k in 0..3usize => patterned(k, len + k));
        for (k, out) in each.iter().enumerate() {
            assert_eq!(*out, patterned(k, len + k), "{len} + {k}");
        }
    }
}

#[test]
fn nested_spawn_processes_in_children_and_pool_workers_come_back_exact() {
    let (inner, listed, me) = spawn_processes!(
        || {
            let (text, small) = spawn_processes!(|| "x".repeat(1000), || 7u8);
            // A second scope in the same child, after the first.
            let again = spawn_processes!(for i in 0..3u64 => i * i + u64::MAX / 2);
            (text, small, again, pid())
        },
        || spawn_processes!(for i in 0..4i8 => -33 - i),
        pid
    );
    assert_eq!(inner.0, "x".repeat(1000));
    assert_eq!(inner.1, 7);
    assert_eq!(inner.2, [u64::MAX / 2, 1 + u64::MAX / 2, 4 + u64::MAX / 2]);
    assert_ne!(inner.3, pid());
    assert_eq!(listed, [-33, -34, -35, -36]);
    assert_ne!(me, pid());
    // In pool workers, and in a pool inside a child.
    let in_workers = pool_map!(|k: u32| {
        let (x, y) = spawn_processes!(|| k * 2, || k.to_string().repeat(300));
        let z = pool_map!(|j: u32| j + k, 0..3u32; processes, workers = 2);
        (x, y, z)
    }, 0..6u32; processes, workers = 2);
    for (k, (x, y, z)) in in_workers.into_iter().enumerate() {
        let k = k as u32;
        assert_eq!(
            (x, y, z),
            (k * 2, k.to_string().repeat(300), vec![k, k + 1, k + 2])
        );
    }
    let deep = spawn_processes!(|| pool_map!(|k: u64| {
        spawn_processes!(for i in 0..2u64 => patterned(i as usize, 300 + k as usize))
    }, 0..3u64; processes, workers = 2));
    for (k, pair) in deep.iter().enumerate() {
        assert_eq!(pair[0], patterned(0, 300 + k));
        assert_eq!(pair[1], patterned(1, 300 + k));
    }
}

#[test]
fn children_from_several_threads_at_once_come_back_exact() {
    let rounds = 25usize;
    std::thread::scope(|s| {
        for t in 0..4usize {
            s.spawn(move || {
                for r in 0..rounds {
                    let (text, number, list) = spawn_processes!(
                        || patterned(t * 100 + r, t * 100 + r * 13),
                        || (t * 1000 + r) as i64 - 500,
                        || pool_map!(|k: u64| k * t as u64 + r as u64, 0..5u64; processes, workers = 2)
                    );
                    assert_eq!(text, patterned(t * 100 + r, t * 100 + r * 13), "thread {t} round {r}");
                    assert_eq!(number, (t * 1000 + r) as i64 - 500);
                    assert_eq!(list, (0..5u64).map(|k| k * t as u64 + r as u64).collect::<Vec<_>>());
                }
            });
        }
    });
}

#[test]
fn recycled_workers_reuse_rings_without_reading_their_old_bytes() {
    // Each worker answers one item and a fresh one takes its ring (kept by
    // the pool with the old worker's bytes in it).
    let lens: Vec<usize> = (0..40usize).map(|k| (40 - k) * 1500 + k % 3).collect();
    let lens = &lens;
    let out = pool_map!(|k: usize| patterned(k, lens[k]), 0..40usize; processes, workers = 2, recycle = 1);
    check_patterned(&out, lens, "recycle = 1");
    let numbers = pool_map!(|k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (k % 64), 0..40u64; processes, workers = 3, recycle = 1, chunksize = 1);
    for (k, got) in numbers.iter().enumerate() {
        let k = k as u64;
        assert_eq!(
            *got,
            k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (k % 64),
            "item {k}"
        );
    }
}

/// An output that ends its process while it is being serialized in the
/// worker (after the item's function returned).
#[derive(Debug, serde::Deserialize)]
struct DiesWhenSent(u32);

impl serde::Serialize for DiesWhenSent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 9 {
            // SAFETY: ends this (worker) process at once.
            unsafe { libc::_exit(4) };
        }
        s.serialize_u32(self.0)
    }
}

#[test]
fn a_worker_dying_while_it_serializes_fails_that_item_alone() {
    let log = run_log("dies-when-sent");
    let log = &log;
    let out = pool_map!(|k: u32| {
        note_run(log, k as usize);
        DiesWhenSent(k)
    }, 0..20u32; processes, workers = 2, chunksize = 4, catch);
    for (k, outcome) in out.iter().enumerate() {
        match outcome {
            Ok(value) => assert_eq!(value.0 as usize, k),
            Err(error) => {
                assert_eq!(k, 9, "{error}");
                assert_eq!(*error.kind(), ErrorKind::Exit(4), "{error}");
            }
        }
    }
    assert!(out[9].is_err());
    assert_eq!(runs(log), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_timed_out_pool_keeps_the_exact_numbers_that_arrived() {
    let out = pool_map!(|k: u64| {
        if k >= 30 {
            std::thread::sleep(Duration::from_secs(5));
        }
        (k as i64 - 15) * i64::from(i32::MAX)
    }, 0..34u64; processes, workers = 2, chunksize = 1, catch, timeout = Duration::from_millis(300));
    for (k, outcome) in out.iter().enumerate() {
        if k < 30 {
            assert_eq!(
                outcome.as_ref().ok(),
                Some(&((k as i64 - 15) * i64::from(i32::MAX))),
                "item {k}"
            );
        } else {
            assert!(outcome.as_ref().unwrap_err().is_timeout(), "item {k}");
        }
    }
}

#[test]
fn a_large_answer_after_a_slow_item_wakes_the_sleeping_parent() {
    // The parent sleeps (up to 50 ms) once no answer came for a while; an
    // answer larger than the ring fills it and must wake the parent to make
    // room, not wait until the parent wakes by itself.
    let data = patterned(7, 3 << 20);
    let data = &data;
    let started = Instant::now();
    let out = pool_map!(|_: usize| {
        std::thread::sleep(Duration::from_millis(20));
        data.clone()
    }, 0..6usize; processes, workers = 1);
    let took = started.elapsed();
    assert!(out.iter().all(|out| out == data));
    // About 6 * 20 ms; about 6 * 58 ms when each answer waits for the
    // parent's own wake-up.
    assert!(took < Duration::from_millis(6 * 20 + 150), "took {took:?}");
}

#[test]
fn a_worker_whose_init_kills_it_fails_its_items_instead_of_being_replaced_for_ever() {
    // Each replacement dies in `init` too (as a panicking init does under
    // panic = "abort"): the item it was given must fail, or the pool forks
    // replacements until the timeout (without one: for ever).
    let log = run_log("init-kills");
    let log = &log;
    let started = Instant::now();
    let out = pool_map!(
        |_state: &mut u32, x: u32| x,
        0..4u32;
        processes, workers = 1, catch, timeout = Duration::from_secs(1),
        init = || -> u32 {
            note_run(log, 0);
            // SAFETY: ends this (worker) process at once.
            unsafe { libc::_exit(5) }
        }
    );
    // One worker per item, each reaped.
    assert_eq!(runs(log), [0; 4]);
    let took = started.elapsed();
    let kinds: Vec<ErrorKind> = out
        .iter()
        .map(|outcome| outcome.as_ref().unwrap_err().kind().clone())
        .collect();
    assert_eq!(kinds, vec![ErrorKind::Exit(5); 4], "after {took:?}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
    // With two workers and chunks too, each item fails once, in order.
    let out = pool_map!(
        |_state: &mut u32, x: u32| x,
        0..6u32;
        processes, workers = 2, chunksize = 2, catch, timeout = Duration::from_secs(1),
        init = || -> u32 {
            // SAFETY: as above.
            unsafe { libc::_exit(5) }
        }
    );
    assert!(
        out.iter()
            .all(|o| *o.as_ref().unwrap_err().kind() == ErrorKind::Exit(5)),
        "{out:?}"
    );
}

#[test]
fn extreme_pool_options_keep_every_value() {
    let expect = |n: u64| (0..n).map(|x| x * x).collect::<Vec<_>>();
    assert_eq!(
        pool_map!(square, 0..10u64; processes, chunksize = 1_000_000),
        expect(10)
    );
    assert_eq!(
        pool_map!(square, 0..3u64; processes, workers = 64),
        expect(3)
    );
    assert_eq!(
        pool_map!(square, 0..23u64; processes, workers = 2, chunksize = 5, recycle = 1),
        expect(23)
    );
    assert_eq!(
        pool_map!(square, 0..23u64; processes, workers = 3, chunksize = 7, recycle = 2),
        expect(23)
    );
    // A crash makes a run larger than what the recycled worker has left.
    let log = run_log("extreme");
    let log = &log;
    let out = pool_map!(|x: u64| {
        note_run(log, x as usize);
        if x == 6 {
            segfault();
        }
        x * x
    }, 0..23u64; processes, workers = 2, chunksize = 5, recycle = 3, catch);
    for (k, outcome) in out.iter().enumerate() {
        if k == 6 {
            assert_eq!(
                *outcome.as_ref().unwrap_err().kind(),
                ErrorKind::Signal(libc::SIGSEGV)
            );
        } else {
            assert_eq!(
                outcome.as_ref().ok(),
                Some(&(k as u64 * k as u64)),
                "item {k}"
            );
        }
    }
    assert_eq!(runs(log), (0..23).collect::<Vec<_>>());
}

#[test]
fn a_child_killed_while_it_sends_its_bytes_is_an_error_not_a_shorter_output() {
    // A `Vec<u8>` or `String` output goes as its raw bytes, which say
    // nothing of their length: a child killed halfway through must not read
    // as a shorter output. The killer thread fires while the 64 MiB go
    // through the pipe (or before, while they are made: an error too).
    const LEN: usize = 64 << 20;
    fn killed_while_sending<T>(make: fn() -> T) -> T {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            // SAFETY: signalling this very process.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        });
        make()
    }
    let bytes = spawn_processes!(|| killed_while_sending(|| vec![7u8; LEN]); catch);
    assert_eq!(
        bytes.map(|b| b.len()).unwrap_err().kind(),
        &ErrorKind::Signal(libc::SIGKILL)
    );
    let text = spawn_processes!(|| killed_while_sending(|| "x".repeat(LEN)); catch);
    assert_eq!(
        text.map(|t| t.len()).unwrap_err().kind(),
        &ErrorKind::Signal(libc::SIGKILL)
    );
    // Not killed: the whole of it, exactly.
    let whole = spawn_processes!(|| vec![7u8; LEN]);
    assert!(whole.len() == LEN && whole.iter().all(|&b| b == 7));
}
