//! The rules of the map engine, written once and run on every backend:
//! `suite!` is instantiated by tests/map.rs (threads, processes) and by
//! tests/mpi.rs (MPI, on one rank and under `mpirun -n 2` and `-n 3`). Side
//! effects that must be seen across processes go through a file opened in
//! append mode.
#![allow(dead_code)]

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A log that every worker (thread or process) may append lines to.
pub struct Log(PathBuf);

impl Log {
    pub fn new(test: &str) -> Log {
        let path = std::env::temp_dir().join(format!(
            "fanout-map-{test}-{}-{}",
            std::process::id(),
            std::thread::current()
                .name()
                .unwrap_or("t")
                .replace("::", "-")
        ));
        let _ = std::fs::remove_file(&path);
        std::fs::File::create(&path).unwrap();
        Log(path)
    }

    pub fn note(&self, line: impl std::fmt::Display) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap();
        // One write per line: appends from several processes do not mix.
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn numbers(&self) -> Vec<usize> {
        let mut numbers: Vec<usize> = self.lines().iter().map(|l| l.parse().unwrap()).collect();
        numbers.sort_unstable();
        numbers
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn panic_text(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    fanout::__private::panic_message(&*payload)
}

/// Whether `f` ran in under `bound` in one of three tries: the bound proves
/// that work ran at the same time; the tries keep a loaded machine from
/// failing the test. Always three tries, so that MPI ranks, which must run
/// the same maps, do the same whatever each measured.
pub fn within(bound: Duration, f: impl Fn()) -> Result<(), Duration> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    if best < bound { Ok(()) } else { Err(best) }
}

pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Maps of the MPI backend are collective and run one at a time: its suite
/// runs its tests one after the other.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The same suite for each backend: `$($backend)*` is the backend's option
/// (nothing for threads, `processes`, `mpi`); `$here` whether the items run in
/// this process (`None`: it depends); `$logs` whether the log files see every item (not when MPI
/// ranks run some of them); `$serial` whether the tests run one at a time.
#[macro_export]
macro_rules! suite {
    ($suite:ident, [$($backend:tt)*], here: $here:expr, logs: $logs:expr, serial: $serial:expr) => {
        mod $suite {
            use super::map_suite::*;
            #[allow(unused_imports)]
            use std::time::{Duration, Instant};

            fn serial() -> Option<std::sync::MutexGuard<'static, ()>> {
                $serial.then(|| SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
            }

            #[test]
            fn outputs_in_input_order_and_empty_input() {
                let _serial = serial();
                let squares = fanout::pool_map!(|x: u64| x * x, 0..1000u64; workers = 3 $(, $backend)*);
                assert!(squares.iter().enumerate().all(|(i, v)| *v == (i * i) as u64));
                let words = vec!["a".to_owned(), "bb".to_owned(), "ccc".to_owned()];
                let lengths = fanout::pool_map!(|w: &String| w.len(), &words; chunksize = 1 $(, $backend)*);
                assert_eq!(lengths, [1, 2, 3]);
                let log = Log::new("empty");
                let none: Vec<u32> = fanout::pool_map!(|x: u32| { log.note(x); x }, Vec::<u32>::new() $(; $backend)*);
                assert!(none.is_empty());
                if $logs {
                    assert!(log.lines().is_empty());
                }
            }

            #[test]
            fn every_allowed_worker_starts_at_once() {
                let _serial = serial();
                let bound = Duration::from_millis(500);
                within(bound, || {
                    fanout::pool_map!(|_: u32| sleep_ms(300), 0..2; workers = 2 $(, $backend)*);
                }).unwrap();
                within(bound, || {
                    fanout::pool_map!(|_: u32| sleep_ms(300), 0..2; workers = 16, chunksize = 1 $(, $backend)*);
                }).unwrap();
                within(bound, || {
                    fanout::pool_map!(|_: u32| sleep_ms(300), 0..8; workers = 8 $(, $backend)*);
                }).unwrap();
            }

            #[test]
            fn at_most_workers_items_run_at_once() {
                let _serial = serial();
                let log = Log::new("width");
                fanout::pool_map!(|i: usize| {
                    log.note(format!("+{i}"));
                    sleep_ms(20);
                    log.note(format!("-{i}"));
                }, 0..12; workers = 3, chunksize = 1 $(, $backend)*);
                let (mut running, mut peak) = (0i32, 0);
                for line in log.lines() {
                    running += if line.starts_with('+') { 1 } else { -1 };
                    peak = peak.max(running);
                }
                if $logs {
                    assert!((2..=3).contains(&peak), "peak {peak}");
                }
            }

            #[test]
            fn without_catch_no_item_starts_after_a_failure() {
                let _serial = serial();
                let log = Log::new("stop");
                let message = panic_text(|| {
                    let _ = fanout::pool_map!(|i: usize| {
                        assert!(i != 2, "two fails");
                        sleep_ms(100);
                        log.note(i);
                        i
                    }, 0..10; workers = 2, chunksize = 1, name = "item" $(, $backend)*);
                });
                assert!(message.starts_with("worker `item-2`"), "{message}");
                assert!(message.contains("panicked: two fails"), "{message}");
                let ran = log.numbers();
                assert!(ran.len() < 6, "items went on starting after the failure: {ran:?}");
                assert!(!ran.contains(&2));
            }

            #[test]
            fn the_failure_of_the_lowest_index_is_raised() {
                let _serial = serial();
                let message = panic_text(|| {
                    let _ = fanout::pool_map!(|i: usize| {
                        if i == 1 {
                            sleep_ms(200);
                            panic!("late one");
                        }
                        if i == 0 {
                            sleep_ms(300);
                        }
                        assert!(i != 2, "early two");
                        i
                    }, 0..3; workers = 3, chunksize = 1, name = "item" $(, $backend)*);
                });
                assert!(message.starts_with("worker `item-1`"), "{message}");
                assert!(message.contains("panicked: late one"), "{message}");
            }

            #[test]
            fn catch_gives_every_item_its_own_outcome() {
                let _serial = serial();
                let out = fanout::pool_map!(|i: u64| {
                    assert!(i % 4 != 1, "bad {i}");
                    i * 10
                }, 0..12; catch, workers = 2, chunksize = 3, name = "item" $(, $backend)*);
                for (i, outcome) in out.iter().enumerate() {
                    if i % 4 == 1 {
                        let failure = outcome.as_ref().unwrap_err();
                        assert_eq!(failure.worker(), format!("item-{i}"));
                        // MPI adds the rank: `bad 1 (on MPI rank 0)`.
                        assert!(failure.panic_message().unwrap().starts_with(&format!("bad {i}")), "{failure}");
                    } else {
                        assert_eq!(*outcome.as_ref().unwrap(), i as u64 * 10);
                    }
                }
            }

            #[test]
            fn a_name_computed_at_run_time_names_the_items_and_their_failures() {
                let _serial = serial();
                let batch = 7;
                let who = format!("batch-{batch}");
                let out = fanout::pool_map!(|i: u64| {
                    assert!(i != 2, "no twos");
                    fanout::current_name().unwrap()
                }, 0..4; catch, workers = 2, chunksize = 1, name = who.as_str() $(, $backend)*);
                assert_eq!(out[3].as_deref().ok(), Some("batch-7-3"));
                assert_eq!(out[2].as_ref().unwrap_err().worker(), "batch-7-2");
            }

            #[test]
            fn try_returns_the_lowest_error_among_the_items_that_ran() {
                let _serial = serial();
                let log = Log::new("try");
                // Each item takes 2 ms: a worker preempted between its error
                // and the stop (a loaded machine) cannot let the other start
                // 100 items meanwhile, as it could with instant items.
                let result: Result<Vec<u32>, String> = fanout::pool_map!(|i: u32| {
                    log.note(i);
                    sleep_ms(2);
                    if i == 10 || i == 30 { Err(format!("bad {i}")) } else { Ok(i) }
                }, 0..1000u32; try, workers = 2, chunksize = 1 $(, $backend)*);
                assert_eq!(result.unwrap_err(), "bad 10");
                assert!(log.numbers().len() < 100, "items kept starting after the error");
                let fine: Result<Vec<u32>, String> = fanout::pool_map!(|x: u32| Ok(x + 1), 0..3; try $(, $backend)*);
                assert_eq!(fine.unwrap(), [1, 2, 3]);
            }

            #[test]
            fn timeout_keeps_every_output_that_finished_in_time() {
                let _serial = serial();
                for chunk in [None, Some(1)] {
                    let log = Log::new("timeout");
                    let started = Instant::now();
                    let options_chunk = chunk.unwrap_or(4);
                    let out = fanout::pool_map!(|i: u64| {
                        sleep_ms(i * 40);
                        log.note(format!("{i} {}", started.elapsed().as_millis()));
                        i
                    }, 0..12u64; workers = 2, catch, chunksize = options_chunk, timeout = Duration::from_millis(500) $(, $backend)*);
                    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
                    let finished: Vec<(u64, u128)> = log
                        .lines()
                        .iter()
                        .map(|l| {
                            let (i, t) = l.split_once(' ').unwrap();
                            (i.parse().unwrap(), t.parse().unwrap())
                        })
                        .collect();
                    for (i, at) in &finished {
                        if *at < 490 {
                            assert_eq!(out[*i as usize].as_ref().ok(), Some(i), "item {i} finished at {at} ms");
                        }
                    }
                    if $logs {
                        assert!(finished.iter().filter(|(_, at)| *at < 490).count() >= 5, "{finished:?}");
                    }
                    let timed_out = out.iter().filter(|o| o.as_ref().is_err_and(|e| e.is_timeout())).count();
                    assert!(timed_out >= 3, "{out:?}");
                    for outcome in &out {
                        if let Err(failure) = outcome {
                            assert!(failure.is_timeout(), "{failure}");
                        }
                    }
                }
            }

            #[test]
            fn timeout_without_catch_panics_naming_a_timed_out_item() {
                let _serial = serial();
                let message = panic_text(|| {
                    let _ = fanout::pool_map!(|i: u64| sleep_ms(i * 100), 0..20u64; workers = 2, timeout = Duration::from_millis(250) $(, $backend)*);
                });
                assert!(message.contains("timed out after 250ms"), "{message}");
            }

            #[test]
            fn a_panic_is_charged_to_its_item_whatever_the_task_does_to_the_name() {
                let _serial = serial();
                // `enter` is public and its guard may be forgotten: the engine
                // must not rely on the current name to know which item failed.
                let out = fanout::pool_map!(|i: u64| {
                    std::mem::forget(fanout::__private::enter(fanout::WorkerName::indexed("evil", 999)));
                    assert!(i != 3, "three");
                    i + 1
                }, 0..8u64; catch, chunksize = 4, workers = 2 $(, $backend)*);
                for (i, outcome) in out.iter().enumerate() {
                    if i == 3 {
                        assert!(outcome.as_ref().unwrap_err().is_panic());
                    } else {
                        assert_eq!(outcome.as_ref().ok(), Some(&(i as u64 + 1)), "{out:?}");
                    }
                }
            }

            #[test]
            fn init_builds_one_state_per_worker_and_a_panicking_init_fails_its_items() {
                let _serial = serial();
                // Each item counts on its worker's state: at most one state
                // per worker, kept from one item to the next.
                let mut counts = fanout::pool_map!(|seen: &mut u32, _i: u32| {
                    *seen += 1;
                    *seen
                }, 0..24u32; workers = 2, chunksize = 1, init = || 0u32 $(, $backend)*);
                counts.sort_unstable();
                let states = counts.iter().filter(|n| **n == 1).count();
                assert!((1..=2).contains(&states), "{counts:?}");
                // Every state that counted n + 1 counted n: each is 1..=k.
                for n in 1..24u32 {
                    let at = |m: u32| counts.iter().filter(|c| **c == m).count();
                    assert!(at(n + 1) <= at(n), "{counts:?}");
                }
                assert_eq!(counts.len(), 24);
                let failed = fanout::pool_map!(|base: &mut u32, i: u32| *base + i, 0..4u32;
                    catch, workers = 2, init = || -> u32 { panic!("no GPU") } $(, $backend)*);
                for outcome in &failed {
                    let error = outcome.as_ref().unwrap_err();
                    assert!(
                        matches!(error.kind(), fanout::ErrorKind::Init(why) if why.starts_with("no GPU")),
                        "{error}"
                    );
                    assert!(error.to_string().contains("the `init` of its worker panicked: no GPU"), "{error}");
                }
            }

            #[test]
            fn the_backend_is_the_one_asked_for() {
                let _serial = serial();
                let pids = fanout::pool_map!(|_: u32| std::process::id(), 0..4; workers = 2 $(, $backend)*);
                let here = pids.iter().all(|pid| *pid == std::process::id());
                // `None`: it depends on which rank takes which chunk.
                let expected: Option<bool> = $here;
                if let Some(expected) = expected {
                    assert_eq!(here, expected);
                }
            }
        }
    };
}
