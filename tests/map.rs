//! The rules of the map engine, written once and run on every backend:
//! `pool_map!` on threads and on processes (MPI runs the same suite under
//! `mpirun` in tests/mpi.rs). Side effects that must be seen across
//! processes go through a file opened in append mode.
#![cfg(unix)]

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fanout::ErrorKind;

/// A log that every worker (thread or process) may append lines to.
struct Log(PathBuf);

impl Log {
    fn new(test: &str) -> Log {
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

    fn note(&self, line: impl std::fmt::Display) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap();
        // One write per line: appends from several processes do not mix.
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn numbers(&self) -> Vec<usize> {
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

fn panic_text(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    fanout::__private::panic_message(&*payload)
}

/// Whether `f` ran in under `bound` in one of three tries: the bound proves
/// that work ran at the same time; the tries keep a loaded machine from
/// failing the test.
fn within(bound: Duration, f: impl Fn()) -> Result<(), Duration> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
        if best < bound {
            return Ok(());
        }
    }
    Err(best)
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The same suite for each backend: `$($backend)*` is the backend's option
/// (nothing for threads, `processes`).
macro_rules! suite {
    ($suite:ident, [$($backend:tt)*], $threads:expr) => {
        mod $suite {
            use super::*;

            #[test]
            fn outputs_in_input_order_and_empty_input() {
                let squares = fanout::pool_map!(|x: u64| x * x, 0..1000u64; workers = 3 $(, $backend)*);
                assert!(squares.iter().enumerate().all(|(i, v)| *v == (i * i) as u64));
                let words = vec!["a".to_owned(), "bb".to_owned(), "ccc".to_owned()];
                let lengths = fanout::pool_map!(|w: &String| w.len(), &words; chunksize = 1 $(, $backend)*);
                assert_eq!(lengths, [1, 2, 3]);
                let log = Log::new("empty");
                let none: Vec<u32> = fanout::pool_map!(|x: u32| { log.note(x); x }, Vec::<u32>::new() $(; $backend)*);
                assert!(none.is_empty());
                assert!(log.lines().is_empty());
            }

            #[test]
            fn every_allowed_worker_starts_at_once() {
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
                assert!((2..=3).contains(&peak), "peak {peak}");
            }

            #[test]
            fn without_catch_no_item_starts_after_a_failure() {
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
                assert!(message.ends_with("panicked: two fails"), "{message}");
                let ran = log.numbers();
                assert!(ran.len() < 6, "items went on starting after the failure: {ran:?}");
                assert!(!ran.contains(&2));
            }

            #[test]
            fn the_failure_of_the_lowest_index_is_raised() {
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
                assert!(message.ends_with("panicked: late one"), "{message}");
            }

            #[test]
            fn catch_gives_every_item_its_own_outcome() {
                let out = fanout::pool_map!(|i: u64| {
                    assert!(i % 4 != 1, "bad {i}");
                    i * 10
                }, 0..12; catch, workers = 2, chunksize = 3, name = "item" $(, $backend)*);
                for (i, outcome) in out.iter().enumerate() {
                    if i % 4 == 1 {
                        let failure = outcome.as_ref().unwrap_err();
                        assert_eq!(failure.worker(), format!("item-{i}"));
                        assert_eq!(failure.panic_message(), Some(format!("bad {i}").as_str()));
                    } else {
                        assert_eq!(*outcome.as_ref().unwrap(), i as u64 * 10);
                    }
                }
            }

            #[test]
            fn try_returns_the_lowest_error_among_the_items_that_ran() {
                let log = Log::new("try");
                let result: Result<Vec<u32>, String> = fanout::pool_map!(|i: u32| {
                    log.note(i);
                    if i == 10 || i == 30 { Err(format!("bad {i}")) } else { Ok(i) }
                }, 0..1000u32; try, workers = 2, chunksize = 1 $(, $backend)*);
                assert_eq!(result.unwrap_err(), "bad 10");
                assert!(log.numbers().len() < 100, "items kept starting after the error");
                let fine: Result<Vec<u32>, String> = fanout::pool_map!(|x: u32| Ok(x + 1), 0..3; try $(, $backend)*);
                assert_eq!(fine.unwrap(), [1, 2, 3]);
            }

            #[test]
            fn timeout_keeps_every_output_that_finished_in_time() {
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
                    assert!(finished.iter().filter(|(_, at)| *at < 490).count() >= 5, "{finished:?}");
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
                let message = panic_text(|| {
                    let _ = fanout::pool_map!(|i: u64| sleep_ms(i * 100), 0..20u64; workers = 2, timeout = Duration::from_millis(250) $(, $backend)*);
                });
                assert!(message.contains("timed out after 250ms"), "{message}");
            }

            #[test]
            fn a_panic_is_charged_to_its_item_whatever_the_task_does_to_the_name() {
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
            fn a_child_process_may_map_on_threads_with_the_parents_worker_count() {
                assert_eq!(fanout::pool_map!(|x: u32| x + 1, 0..4; workers = 3 $(, $backend)*), [1, 2, 3, 4]);
                let in_child = fanout::spawn_processes!(|| fanout::pool_map!(|x: u32| x * 2, 0..6; workers = 3));
                assert_eq!(in_child, [0, 2, 4, 6, 8, 10]);
            }

            #[test]
            fn the_backend_is_the_one_asked_for() {
                let pids = fanout::pool_map!(|_: u32| std::process::id(), 0..4; workers = 2 $(, $backend)*);
                let here = pids.iter().all(|pid| *pid == std::process::id());
                assert_eq!(here, $threads);
            }
        }
    };
}

suite!(threads, [], true);
suite!(processes, [processes], false);

#[test]
fn a_crashed_worker_fails_its_item_alone_and_nothing_runs_twice() {
    let log = Log::new("crash");
    let out = fanout::pool_map!(|i: usize| {
        log.note(i);
        if i == 5 {
            // SAFETY: raising a signal is always allowed; it kills the worker.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        i
    }, 0..16; processes, catch, workers = 2, chunksize = 8);
    for (i, outcome) in out.iter().enumerate() {
        if i == 5 {
            let failure = outcome.as_ref().unwrap_err();
            assert_eq!(*failure.kind(), ErrorKind::Signal(libc::SIGSEGV));
        } else {
            assert_eq!(outcome.as_ref().ok(), Some(&i));
        }
    }
    assert_eq!(
        log.numbers(),
        (0..16).collect::<Vec<_>>(),
        "each item ran once"
    );
}

#[test]
fn thread_pools_stay_bounded_whatever_the_worker_counts() {
    fn threads() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
    let batch: Vec<u32> = (0..64).collect();
    for n in 1..=40 {
        let out = fanout::pool_map!(|x: &u32| x + 1, &batch; workers = n);
        assert_eq!(out.len(), 64);
    }
    // The threads of the pools that were replaced exit soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    let bound = 40 + 30;
    while threads() > bound && Instant::now() < deadline {
        sleep_ms(20);
    }
    assert!(threads() <= bound, "{} threads alive", threads());
}
