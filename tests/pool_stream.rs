//! pool_map!'s streams (`stream`, `unordered`), `init` and `recycle`:
//! behaviour through the facade (issue 12).

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn square(x: u64) -> u64 {
    x * x
}

/// The threads of this process named `name` (from /proc/self/task).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn stream_yields_in_input_order() {
    let squares: Vec<u64> = fanout::pool_map!(square, 0..20u64; stream, workers = 4).collect();
    assert_eq!(squares, (0..20u64).map(square).collect::<Vec<_>>());
    // Staggered: early items are the slowest, yet come first.
    let slow_first = fanout::pool_map!(
        |i: u64| {
            std::thread::sleep(Duration::from_millis(10 * (8 - i)));
            i
        },
        0..8u64;
        stream, workers = 8
    );
    assert_eq!(slow_first.collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
}

#[test]
fn unordered_yields_in_completion_order_with_the_index() {
    let done: Vec<(usize, u64)> = fanout::pool_map!(
        |i: u64| {
            std::thread::sleep(Duration::from_millis(60 * (3 - i)));
            i * 10
        },
        vec![0u64, 1, 2, 3];
        unordered, workers = 4
    )
    .collect();
    assert_eq!(done, [(3, 30), (2, 20), (1, 10), (0, 0)]);
}

#[test]
fn an_endless_range_is_pulled_lazily() {
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&taken);
    let items = (0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut stream = fanout::pool_map!(square, items; stream, buffer = 8, workers = 3);
    for yielded in 1..=100u64 {
        let square = stream.next().unwrap();
        assert_eq!(square, (yielded - 1) * (yielded - 1));
        std::thread::sleep(Duration::from_micros(200));
        let taken = taken.load(Ordering::SeqCst) as u64;
        assert!(taken <= yielded + 8, "{taken} taken, {yielded} yielded");
    }
    drop(stream);
    assert!(taken.load(Ordering::SeqCst) <= 108);
    // The documented shape: an endless range, `buffer = 64`.
    let first: Vec<u64> = fanout::pool_map!(square, 0..; stream, buffer = 64)
        .take(3)
        .collect();
    assert_eq!(first, [0, 1, 4]);
}

#[test]
fn dropping_a_stream_early_joins_its_workers() {
    let ran = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (r, f) = (Arc::clone(&ran), Arc::clone(&finished));
    let mut stream = fanout::pool_map!(
        move |i: u64| {
            r.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            f.fetch_add(1, Ordering::SeqCst);
            i
        },
        0u64..;
        stream, workers = 4, buffer = 4, name = "dropjoin"
    );
    assert_eq!(stream.next(), Some(0));
    assert_eq!(threads_named("dropjoin"), 4);
    drop(stream);
    // Every item that started has finished, and no new one starts.
    let started = ran.load(Ordering::SeqCst);
    assert_eq!(finished.load(Ordering::SeqCst), started);
    assert!(started <= 1 + 4);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ran.load(Ordering::SeqCst), started);
    assert_eq!(threads_named("dropjoin"), 0);
}

#[test]
fn catch_yields_each_result() {
    let checked: Vec<Result<u32, fanout::Error>> = fanout::pool_map!(
        |x: u32| {
            assert!(x != 2, "two is not allowed");
            x
        },
        0..5u32;
        stream, catch
    )
    .collect();
    assert_eq!(checked.len(), 5);
    assert_eq!(checked[1].as_ref().ok(), Some(&1));
    assert_eq!(
        checked[2].as_ref().unwrap_err().to_string(),
        "worker `task-2` panicked: two is not allowed"
    );
    assert_eq!(checked[4].as_ref().ok(), Some(&4));
}

#[test]
fn try_ends_the_stream_after_the_first_error() {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&started);
    let parsed: Vec<Result<u32, String>> = fanout::pool_map!(
        move |x: u32| {
            counter.fetch_add(1, Ordering::SeqCst);
            if x == 3 { Err(format!("bad {x}")) } else { Ok(x) }
        },
        0u32..;
        stream, try, workers = 2, buffer = 4
    )
    .collect();
    // Outputs in order up to the error, which ends the stream; as in the
    // collecting form, items that had not started when it was met never run.
    let (error, outputs) = parsed.split_last().unwrap();
    assert_eq!(error, &Err("bad 3".to_owned()));
    assert!(outputs.iter().zip(0..).all(|(output, x)| output == &Ok(x)));
    // No item started long after the error: at most a buffer's worth.
    assert!(started.load(Ordering::SeqCst) <= 4 + 4);
    let first_err: Vec<(usize, Result<u32, String>)> = fanout::pool_map!(
        |x: u32| if x == 1 { Err("one".to_owned()) } else { Ok(x) },
        vec![5u32, 1, 7];
        unordered, try, workers = 1
    )
    .collect();
    assert_eq!(first_err.last(), Some(&(1, Err("one".to_owned()))));
}

#[test]
fn a_failure_panics_when_it_would_be_yielded() {
    let mut stream = fanout::pool_map!(
        |x: u32| {
            assert!(x != 3, "three is not allowed");
            x
        },
        0..10u32;
        stream, workers = 2
    );
    let mut seen = Vec::new();
    let failed = catch_unwind(AssertUnwindSafe(|| {
        for x in &mut stream {
            seen.push(x);
        }
    }));
    let message = failed.unwrap_err();
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("three is not allowed"), "{message}");
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(stream.next(), None);
}

#[test]
fn streams_may_name_the_function_and_move_owned_values_in() {
    let offset = Arc::new(100u64);
    let shifted: Vec<u64> =
        fanout::pool_map!(move |x: u64| x + *offset, vec![1u64, 2, 3]; stream).collect();
    assert_eq!(shifted, [101, 102, 103]);
    let empty: Vec<u64> = fanout::pool_map!(square, Vec::<u64>::new(); stream).collect();
    assert!(empty.is_empty());
}

#[test]
fn init_builds_the_state_once_per_worker() {
    static BUILT: AtomicUsize = AtomicUsize::new(0);
    let rows: Vec<String> = fanout::pool_map!(
        |db, id| format!("{db}:{id}"),
        0..100u32;
        workers = 3,
        init = || {
            BUILT.fetch_add(1, Ordering::SeqCst);
            String::from("db")
        }
    );
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[42], "db:42");
    let built = BUILT.load(Ordering::SeqCst);
    assert!((1..=3).contains(&built), "{built} states for 3 workers");
}

#[test]
fn init_state_is_mutable_and_per_worker() {
    // Each worker counts its own items: the counts add up to the items.
    let counts = fanout::pool_map!(
        |seen: &mut usize, _x: u32| {
            *seen += 1;
            (std::thread::current().id(), *seen)
        },
        0..50u32;
        workers = 2, chunksize = 5,
        init = || 0usize
    );
    let mut last = std::collections::HashMap::new();
    for (thread, seen) in counts {
        let top = last.entry(thread).or_insert(0);
        *top = (*top).max(seen);
    }
    assert_eq!(last.values().sum::<usize>(), 50);
}

#[test]
fn init_works_with_stream() {
    let built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&built);
    let out: Vec<u64> = fanout::pool_map!(
        |base: &mut u64, x: u64| *base + x,
        0u64..;
        stream, workers = 2,
        init = move || {
            counter.fetch_add(1, Ordering::SeqCst);
            1000
        }
    )
    .take(10)
    .collect();
    assert_eq!(out, (1000..1010).collect::<Vec<_>>());
    assert!(built.load(Ordering::SeqCst) <= 2);
}

#[test]
fn a_panicking_init_fails_the_items_of_its_worker() {
    let results = fanout::pool_map!(
        |state: &mut u32, x: u32| *state + x,
        0..4u32;
        catch, workers = 1,
        init = || -> u32 { panic!("no database") }
    );
    for result in &results {
        let error = result.as_ref().unwrap_err();
        assert!(matches!(error.kind(), fanout::ErrorKind::Init(why) if why == "no database"));
        assert!(
            error
                .to_string()
                .contains("`init` of its worker panicked: no database"),
            "{error}"
        );
    }
    let streamed: Vec<Result<u32, fanout::Error>> = fanout::pool_map!(
        |state: &mut u32, x: u32| *state + x,
        0..3u32;
        stream, catch, workers = 1,
        init = || -> u32 { panic!("no model") }
    )
    .collect();
    assert_eq!(streamed.len(), 3);
    assert!(streamed.iter().all(|r| r.is_err()));
}

#[cfg(unix)]
#[test]
fn init_runs_in_each_worker_process() {
    let pids = fanout::pool_map!(
        |pid: &mut u32, _x: u32| *pid,
        0..40u32;
        processes, workers = 2,
        init = std::process::id
    );
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    assert!(!distinct.contains(&std::process::id()));
    assert!(distinct.len() <= 2);
    let failed = fanout::pool_map!(
        |state: &mut u32, x: u32| *state + x,
        0..3u32;
        processes, catch, workers = 1,
        init = || -> u32 { panic!("no GPU") }
    );
    for result in &failed {
        let error = result.as_ref().unwrap_err();
        assert!(
            matches!(error.kind(), fanout::ErrorKind::Init(why) if why == "no GPU"),
            "{error}"
        );
    }
}

#[cfg(unix)]
#[test]
fn recycle_replaces_worker_processes() {
    let pids = fanout::pool_map!(|x: u32| (x, std::process::id()), 0..25u32; processes, workers = 2, recycle = 4);
    assert_eq!(
        pids.iter().map(|(x, _)| *x).collect::<Vec<_>>(),
        (0..25).collect::<Vec<_>>()
    );
    let distinct: HashSet<u32> = pids.iter().map(|(_, pid)| *pid).collect();
    assert!(
        distinct.len() >= 25usize.div_ceil(4),
        "{} pids",
        distinct.len()
    );
    // No worker ran more than 4 items.
    for pid in &distinct {
        assert!(pids.iter().filter(|(_, p)| p == pid).count() <= 4);
    }
    // With `init`, each fresh worker builds its own state.
    let states = fanout::pool_map!(
        |pid: &mut u32, _x: u32| *pid,
        0..9u32;
        processes, workers = 1, recycle = 3,
        init = std::process::id
    );
    let distinct: HashSet<u32> = states.iter().copied().collect();
    assert_eq!(distinct.len(), 3);
}

#[cfg(unix)]
#[test]
fn process_streams_yield_in_input_and_completion_order() {
    let squares: Vec<u64> =
        fanout::pool_map!(square, 0..; processes, stream, workers = 2, buffer = 4)
            .take(20)
            .collect();
    assert_eq!(squares, (0..20u64).map(square).collect::<Vec<_>>());
    let done: Vec<(usize, u64)> = fanout::pool_map!(
        |i: u64| {
            std::thread::sleep(Duration::from_millis(60 * (3 - i)));
            i * 10
        },
        vec![0u64, 1, 2, 3];
        processes, unordered, workers = 4
    )
    .collect();
    assert_eq!(done, [(3, 30), (2, 20), (1, 10), (0, 0)]);
    let pids: HashSet<u32> =
        fanout::pool_map!(|_: u32| std::process::id(), 0..8u32; processes, stream, workers = 2)
            .collect();
    assert!(!pids.contains(&std::process::id()));
    assert!(pids.len() <= 2);
}

#[cfg(unix)]
#[test]
fn process_streams_catch_try_and_init() {
    let checked: Vec<Result<u32, fanout::Error>> = fanout::pool_map!(
        |x: u32| {
            assert!(x != 2, "two is not allowed");
            x
        },
        0..4u32;
        processes, stream, catch, workers = 2
    )
    .collect();
    assert_eq!(checked.len(), 4);
    assert!(
        checked[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("two is not allowed")
    );
    assert_eq!(checked[3].as_ref().ok(), Some(&3));
    let parsed: Vec<Result<u32, String>> = fanout::pool_map!(
        |x: u32| if x == 3 { Err(format!("bad {x}")) } else { Ok(x) },
        0u32..;
        processes, stream, try, workers = 2, buffer = 4
    )
    .collect();
    assert_eq!(parsed.last(), Some(&Err("bad 3".to_owned())));
    let with_state: Vec<u32> = fanout::pool_map!(
        |pid: &mut u32, _x: u32| *pid,
        0..6u32;
        processes, stream, workers = 1,
        init = std::process::id
    )
    .collect();
    assert!(
        with_state
            .iter()
            .all(|pid| *pid == with_state[0] && *pid != std::process::id())
    );
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_a_process_stream_kills_and_reaps_its_workers() {
    // One worker: item 0 tells its pid, item 1 would run for 30 s.
    let mut stream = fanout::pool_map!(
        |i: u64| {
            if i > 0 {
                std::thread::sleep(Duration::from_secs(30));
            }
            std::process::id()
        },
        0u64..;
        processes, stream, workers = 1, buffer = 2
    );
    let pid = stream.next().unwrap();
    assert_ne!(pid, std::process::id());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let started = std::time::Instant::now();
    drop(stream);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the running item was killed"
    );
    // Reaped: not even a zombie is left.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[cfg(unix)]
#[test]
fn a_crashed_worker_process_fails_its_item_and_the_others_go_on() {
    let results: Vec<(usize, Result<u32, fanout::Error>)> = fanout::pool_map!(
        |x: u32| {
            if x == 1 {
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(5));
            x
        },
        0..12u32;
        processes, unordered, catch, workers = 2
    )
    .collect();
    assert_eq!(results.len(), 12);
    let crashed = &results.iter().find(|(k, _)| *k == 1).unwrap().1;
    let error = crashed.as_ref().unwrap_err();
    assert!(
        matches!(error.kind(), fanout::ErrorKind::Signal(_)),
        "{error}"
    );
    // The other worker ran the rest.
    let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    assert!(ok >= 6, "{ok} items ran: {results:?}");
}

#[test]
fn progress_and_timeline_work_on_streams() {
    let out: Vec<u64> = fanout::pool_map!(square, 0u64..; stream, progress, timeline, workers = 2)
        .take(10)
        .collect();
    assert_eq!(out.len(), 10);
    let done = fanout::pool_map!(square, 0..10u64; unordered, timeline).count();
    assert_eq!(done, 10);
}

/// The peak resident memory of this process so far, in KiB (VmHWM).
#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_long_stream_runs_in_bounded_memory() {
    // Loosely: 1 000 000 items of 64 bytes each through a stream leave the
    // peak where it was, give or take a few megabytes (collected, they would
    // take 64 MB); the numbers are measured by `stream_measurements`.
    let before = peak_rss_kib();
    let total: u64 = fanout::pool_map!(|x: u64| [x; 8], 0..1_000_000u64; stream, workers = 2, chunksize = 64, buffer = 256)
        .map(|row| row[0])
        .sum();
    assert_eq!(total, 999_999 * 1_000_000 / 2);
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "the peak grew by {grown} KiB");
}

#[test]
fn many_short_streams_end_or_drop_cleanly() {
    for round in 0..200u64 {
        let take = (round % 7) as usize;
        let got: Vec<u64> =
            fanout::pool_map!(square, 0..(round % 11); stream, workers = 3, buffer = 2)
                .take(take)
                .collect();
        assert_eq!(got.len(), take.min((round % 11) as usize));
        let mut unordered: Vec<usize> =
            fanout::pool_map!(square, 0..(round % 5); unordered, chunksize = 2)
                .map(|(index, _)| index)
                .collect();
        unordered.sort_unstable();
        assert_eq!(unordered, (0..(round % 5) as usize).collect::<Vec<_>>());
    }
}

#[test]
fn init_as_in_the_issue_borrows_and_infers_the_state() {
    struct Db {
        url: String,
    }
    impl Db {
        fn connect(url: &str) -> Db {
            Db {
                url: url.to_owned(),
            }
        }
        fn lookup(&mut self, id: u32) -> String {
            format!("{}/{id}", self.url)
        }
    }
    let url = String::from("db://local");
    let ids = vec![1u32, 2, 3];
    let rows = fanout::pool_map!(|db, id| db.lookup(id), ids; init = || Db::connect(&url));
    assert_eq!(rows, ["db://local/1", "db://local/2", "db://local/3"]);
}
