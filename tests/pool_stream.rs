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

static PRIMES: [u64; 4] = [2, 3, 5, 7];
const SCALE: u64 = 10;

/// What the macro's borrow check (`stream_borrows`) must leave alone: each
/// of these compiles, and runs.
#[test]
fn streams_over_statics_owned_values_and_arcs_are_not_refused() {
    let from_static: Vec<u64> = fanout::pool_map!(|p: &u64| p * SCALE, &PRIMES; stream).collect();
    assert_eq!(from_static, [20, 30, 50, 70]);
    let from_iter: Vec<u64> = fanout::pool_map!(|p: &u64| p + 1, PRIMES.iter(); stream).collect();
    assert_eq!(from_iter, [3, 4, 6, 8]);
    let letters: Vec<bool> =
        fanout::pool_map!(|c: char| c.is_uppercase(), "aBc".chars(); stream).collect();
    assert_eq!(letters, [false, true, false]);
    let promoted: Vec<u64> = fanout::pool_map!(|x: &u64| x + SCALE, &[1u64, 2]; stream).collect();
    assert_eq!(promoted, [11, 12]);
    let owned = vec![1u64, 2, 3];
    let offset = 5u64;
    let moved: Vec<u64> =
        fanout::pool_map!(move |x: u64| x + offset, owned.clone(); stream).collect();
    assert_eq!(moved, [6, 7, 8]);
    let table = Arc::new(vec![10u64, 20, 30]);
    let shared = Arc::clone(&table);
    let looked_up: Vec<(usize, u64)> =
        fanout::pool_map!(move |i: usize| shared[i], 0..3usize; unordered).collect();
    assert_eq!(looked_up.len(), 3);
    assert!(looked_up.iter().all(|(i, v)| table[*i] == *v));
    // A local that holds a `&'static`, itself the items.
    let primes: &'static [u64] = &PRIMES;
    let doubled: Vec<u64> = fanout::pool_map!(|p: &u64| p * 2, primes; stream).collect();
    assert_eq!(doubled, [4, 6, 10, 14]);
    // A function named as a value, inside a closure that captures nothing.
    fn apply(f: fn(u64) -> u64, x: u64) -> u64 {
        f(x)
    }
    let applied: Vec<u64> = fanout::pool_map!(|x: u64| apply(square, x), 0..3u64; stream).collect();
    assert_eq!(applied, [0, 1, 4]);
    let _ = owned;
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
    // take 64 MB); the numbers are measured by `stream_measurements`. The
    // peak is the whole process's: measured in a copy of this binary that
    // runs this test alone, not beside tests that hold large values.
    const ALONE: &str = "FANOUT_TEST_STREAM_MEMORY_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_long_stream_runs_in_bounded_memory",
                "--nocapture",
            ])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
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

/// How a worker process dies in the crash tests.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, Debug)]
enum Crash {
    Abort,
    Exit,
    Kill,
}

#[cfg(target_os = "linux")]
impl Crash {
    fn now(self) -> ! {
        match self {
            Crash::Abort => std::process::abort(),
            // SAFETY: `_exit` takes no pointers and never returns.
            Crash::Exit => unsafe { libc::_exit(3) },
            Crash::Kill => {
                // SAFETY: signalling this very process; SIGKILL cannot be
                // caught, so it never returns.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                unreachable!("SIGKILL was sent")
            }
        }
    }

    fn kind(self) -> fanout::ErrorKind {
        match self {
            Crash::Abort => fanout::ErrorKind::Signal(libc::SIGABRT),
            Crash::Exit => fanout::ErrorKind::Exit(3),
            Crash::Kill => fanout::ErrorKind::Signal(libc::SIGKILL),
        }
    }
}

/// A file that the items of a test append a line to, from any process.
#[cfg(target_os = "linux")]
struct Log(std::path::PathBuf);

#[cfg(target_os = "linux")]
impl Log {
    fn new(tag: &str) -> Log {
        let path =
            std::env::temp_dir().join(format!("fanout-pool-stream-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Log(path)
    }

    /// Appends `line` in one write (atomic with `O_APPEND`).
    fn note(&self, line: &str) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .unwrap();
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many times item `i` started (`start i ...` lines).
    fn starts(&self, i: u32) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.split(' ').take(2).eq(["start", &i.to_string()]))
            .count()
    }
}

#[cfg(target_os = "linux")]
impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `pid` exists, a zombie included.
#[cfg(target_os = "linux")]
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// What a crash test's item returns: `(i * 10, its pid, its parent's pid)`.
#[cfg(target_os = "linux")]
type Ran = (u32, u32, u32);

/// An item's index and outcome.
#[cfg(target_os = "linux")]
type Indexed<T> = (usize, Result<T, fanout::Error>);

/// The item of the crash tests: logs `start i pid parent`, dies at `crash_at`
/// in the way asked, otherwise returns `(i * 10, pid, parent)`.
#[cfg(target_os = "linux")]
fn crashing_item(log: &Log, i: u32, crash_at: u32, crash: Crash) -> Ran {
    let (pid, parent) = (std::process::id(), std::os::unix::process::parent_id());
    log.note(&format!("start {i} {pid} {parent}"));
    if i == crash_at {
        crash.now();
    }
    std::thread::sleep(Duration::from_millis(2));
    (i * 10, pid, parent)
}

/// Checks the outcomes of a crash test: item `crash_at` failed with the
/// crash, naming its worker and pid; every other item has its output, from
/// a worker process; each item ran once; no worker process (nor the fork
/// server that forked a stream's) is left, not even as a zombie.
#[cfg(target_os = "linux")]
fn check_crash(log: &Log, crash: Crash, crash_at: u32, results: &[Indexed<Ran>]) {
    assert_eq!(results.len(), 12, "{results:?}");
    let mut pids = HashSet::new();
    for (index, result) in results {
        let i = *index as u32;
        assert_eq!(log.starts(i), 1, "item {i} ran once: {:?}", log.lines());
        if i == crash_at {
            let error = result.as_ref().unwrap_err();
            assert_eq!(*error.kind(), crash.kind(), "{error}");
            let pid = error.pid().expect("the error names the worker process");
            let text = error.to_string();
            assert!(text.contains(&format!("-{crash_at}`")), "{text}");
            assert!(text.contains(&format!("(pid {pid})")), "{text}");
            pids.insert(pid);
        } else {
            let (value, pid, parent) = *result.as_ref().unwrap();
            assert_eq!(value, i * 10);
            assert_ne!(pid, std::process::id(), "item {i} ran in a worker");
            pids.insert(pid);
            // A stream's workers are forked by its fork server, the
            // collecting pool's by this process.
            if parent != std::process::id() {
                pids.insert(parent);
            }
        }
    }
    for pid in pids {
        assert!(!exists(pid), "process {pid} is left");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_crashed_stream_worker_fails_its_item_alone_and_is_replaced() {
    for crash in [Crash::Abort, Crash::Exit, Crash::Kill] {
        // In input order, one worker: without a replacement, every item
        // after the crash would fail.
        let log = Log::new(&format!("ordered-{crash:?}"));
        let results: Vec<_> = fanout::pool_map!(
            |i: u32| crashing_item(&log, i, 5, crash),
            0..12u32;
            processes, stream, catch, workers = 1
        )
        .enumerate()
        .collect();
        check_crash(&log, crash, 5, &results);
        // The items after the crash ran in a fresh worker.
        let pid_of = |k: usize| results[k].1.as_ref().unwrap().1;
        assert_eq!(pid_of(4), results[5].1.as_ref().unwrap_err().pid().unwrap());
        assert_ne!(pid_of(4), pid_of(6));
        // In completion order, two workers.
        let log = Log::new(&format!("unordered-{crash:?}"));
        let results: Vec<_> = fanout::pool_map!(
            |i: u32| crashing_item(&log, i, 3, crash),
            0..12u32;
            processes, unordered, catch, workers = 2
        )
        .collect();
        check_crash(&log, crash, 3, &results);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn without_catch_a_crashed_item_panics_the_stream_once_the_others_ended() {
    let log = Log::new("unwrap");
    let mut yielded = Vec::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let stream = fanout::pool_map!(
            |i: u32| {
                let (value, pid, parent) = crashing_item(&log, i, 3, Crash::Abort);
                std::thread::sleep(Duration::from_millis(20));
                log.note(&format!("end {i}"));
                (value, pid, parent)
            },
            0..8u32;
            processes, stream, workers = 2
        );
        for item in stream {
            yielded.push(item);
        }
    }));
    let payload = outcome.expect_err("the stream panics at the crashed item");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("-3`"), "{message}");
    assert!(message.contains("SIGABRT"), "{message}");
    assert_eq!(
        yielded
            .iter()
            .map(|(value, _, _)| *value)
            .collect::<Vec<_>>(),
        [0, 10, 20]
    );
    // Every item that started, but the crashed one, ended before the panic,
    // and ran once; no worker process is left.
    let lines = log.lines();
    for line in &lines {
        let words: Vec<&str> = line.split(' ').collect();
        if words[0] == "start" {
            let i: u32 = words[1].parse().unwrap();
            assert_eq!(log.starts(i), 1, "{lines:?}");
            if i != 3 {
                assert!(lines.contains(&format!("end {i}")), "{lines:?}");
            }
            for pid in &words[2..] {
                assert!(!exists(pid.parse().unwrap()), "{pid} is left");
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_crash_with_recycle_fails_one_item_and_the_recycling_goes_on() {
    let log = Log::new("recycle");
    let results: Vec<_> = fanout::pool_map!(
        |i: u32| crashing_item(&log, i, 4, Crash::Abort),
        0..12u32;
        processes, stream, catch, workers = 1, recycle = 3
    )
    .enumerate()
    .collect();
    check_crash(&log, Crash::Abort, 4, &results);
    // Each worker ran at most 3 items: 0-2, then 3 and the crashed 4, then a
    // fresh worker for 5-7, 8-10, 11.
    let pid_of = |k: usize| match &results[k].1 {
        Ok((_, pid, _)) => *pid,
        Err(error) => error.pid().unwrap(),
    };
    let groups: Vec<Vec<usize>> = [
        vec![0, 1, 2],
        vec![3, 4],
        vec![5, 6, 7],
        vec![8, 9, 10],
        vec![11],
    ]
    .into();
    let mut seen = HashSet::new();
    for group in &groups {
        let pid = pid_of(group[0]);
        assert!(group.iter().all(|&k| pid_of(k) == pid), "{results:?}");
        assert!(seen.insert(pid), "{results:?}");
    }
    // The collecting form, the same way.
    let log = Log::new("recycle-collect");
    let collected = fanout::pool_map!(
        |i: u32| crashing_item(&log, i, 4, Crash::Abort),
        0..12u32;
        processes, catch, workers = 1, recycle = 3
    );
    let collected: Vec<_> = collected.into_iter().enumerate().collect();
    check_crash(&log, Crash::Abort, 4, &collected);
    // Unordered, with `init`: each fresh worker builds its state.
    let states: Vec<Indexed<(u32, u32)>> = fanout::pool_map!(
        |state: &mut u32, i: u32| {
            if i == 2 {
                std::process::abort();
            }
            (i, *state)
        },
        0..6u32;
        processes, unordered, catch, workers = 1, recycle = 2,
        init = std::process::id
    )
    .collect();
    assert_eq!(states.len(), 6);
    for (index, result) in &states {
        match result {
            Ok((i, state)) => {
                assert_eq!(*i as usize, *index);
                assert_ne!(*state, std::process::id());
            }
            Err(error) => {
                assert_eq!(*index, 2);
                assert_eq!(*error.kind(), fanout::ErrorKind::Signal(libc::SIGABRT));
            }
        }
    }
    let distinct: HashSet<u32> = states
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|(_, s)| *s))
        .collect();
    // Items 0-1, (2 crashed) 3, 4-5: three workers that answered.
    assert_eq!(distinct.len(), 3, "{states:?}");
}

#[cfg(unix)]
#[test]
fn a_process_stream_outlives_the_thread_that_made_it() {
    // Made on a thread that ends before the stream is read: its processes
    // must not die with that thread.
    let stream = std::thread::spawn(
        || fanout::pool_map!(square, 0..40u64; processes, stream, catch, workers = 2, buffer = 4),
    )
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let outputs: Vec<u64> = stream.map(|outcome| outcome.unwrap()).collect();
    assert_eq!(outputs, (0..40u64).map(square).collect::<Vec<_>>());
}

#[cfg(unix)]
#[test]
fn a_stream_ends_promptly_while_another_stream_is_alive() {
    // Stream `a`'s workers are running when stream `b` starts: `b`'s fork
    // server is a copy of this process, with `a`'s sockets in it.
    let mut a = fanout::pool_map!(square, 0..40u64; processes, stream, workers = 2, buffer = 2);
    assert_eq!(a.next(), Some(0));
    let mut b = fanout::pool_map!(square, 0..; processes, stream, workers = 1, buffer = 1);
    assert_eq!(b.next(), Some(0));
    let started = std::time::Instant::now();
    let rest: Vec<u64> = a.collect();
    let took = started.elapsed();
    assert_eq!(rest, (1..40u64).map(square).collect::<Vec<_>>());
    assert_eq!(b.next(), Some(1));
    drop(b);
    assert!(took < Duration::from_millis(250), "took {took:?}");
}

#[cfg(unix)]
fn gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(unix)]
#[test]
fn a_process_stream_read_slowly_on_another_thread_then_dropped_leaves_no_process() {
    // Each item tells its worker's pid and its parent's (the fork server).
    let mut stream = fanout::pool_map!(
        // SAFETY: getppid takes nothing and cannot fail.
        |i: u64| (i, std::process::id(), unsafe { libc::getppid() }.unsigned_abs()),
        0u64..;
        processes, stream, workers = 2, buffer = 2, recycle = 3
    );
    let (first, _, server) = stream.next().unwrap();
    assert_eq!(first, 0);
    assert_ne!(server, std::process::id());
    let reader = std::thread::spawn(move || {
        let mut seen = vec![(first, 0, server)];
        for _ in 0..12 {
            // A consumer slower than the workers.
            std::thread::sleep(Duration::from_millis(3));
            seen.push(stream.next().unwrap());
        }
        // Dropped early, on this thread, with items running.
        drop(stream);
        seen
    });
    let seen = reader.join().unwrap();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..13u64).collect::<Vec<_>>()
    );
    let workers: HashSet<u32> = seen[1..].iter().map(|s| s.1).collect();
    assert!(workers.len() >= 13 / 3, "recycled: {workers:?}");
    assert!(seen[1..].iter().all(|s| s.2 == server), "{seen:?}");
    for pid in workers.iter().copied().chain([server]) {
        assert!(gone(pid), "{pid} is left (the fork server is {server})");
    }
}

#[cfg(unix)]
#[test]
fn numbers_through_a_recycling_process_stream_come_back_exact() {
    let values: Vec<i64> = vec![
        i64::MIN,
        -129,
        -128,
        -33,
        -32,
        -1,
        0,
        127,
        128,
        255,
        256,
        65536,
        i64::MAX,
    ];
    let expected: Vec<u64> = values
        .iter()
        .map(|v| v.unsigned_abs() ^ 0x8000_0000_0000_0001)
        .collect();
    let out: Vec<u64> = fanout::pool_map!(
        |v: i64| v.unsigned_abs() ^ 0x8000_0000_0000_0001,
        values.clone();
        processes, stream, workers = 2, recycle = 2
    )
    .collect();
    assert_eq!(out, expected);
    let mut unordered: Vec<(usize, f64)> = fanout::pool_map!(
        |v: i64| if v == 0 { -0.0 } else { v as f64 },
        values.clone();
        processes, unordered, workers = 3, recycle = 1
    )
    .collect();
    unordered.sort_by_key(|(k, _)| *k);
    for ((k, got), v) in unordered.iter().zip(&values) {
        let want = if *v == 0 { -0.0 } else { *v as f64 };
        assert_eq!(got.to_bits(), want.to_bits(), "item {k}");
    }
}

#[cfg(unix)]
#[test]
fn streams_pools_and_children_on_several_threads_at_once_stay_exact_and_prompt() {
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..6u64 {
                let out: Vec<u64> = fanout::pool_map!(
                    move |x: u64| x * 1_000 + round,
                    0..30u64;
                    processes, stream, workers = 2, recycle = 7
                )
                .collect();
                assert_eq!(
                    out,
                    (0..30u64).map(|x| x * 1_000 + round).collect::<Vec<_>>()
                );
            }
        });
        s.spawn(|| {
            for round in 0..6u64 {
                let out =
                    fanout::pool_map!(|x: u64| x * 7 + round, 0..300u64; processes, workers = 2);
                assert_eq!(out, (0..300u64).map(|x| x * 7 + round).collect::<Vec<_>>());
            }
        });
        s.spawn(|| {
            for round in 0..10i64 {
                let (a, b) = fanout::spawn_processes!(|| -round, || vec![round as u8; 300]);
                assert_eq!((a, b), (-round, vec![round as u8; 300]));
            }
        });
    });
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
