//! The map engine's rules on threads and on processes (the suite is in
//! tests/map_suite; MPI runs it in tests/mpi.rs), and what is particular to
//! each backend.
#![cfg(unix)]

mod map_suite;

use std::time::{Duration, Instant};

use fanout::ErrorKind;
use map_suite::{Log, sleep_ms};

suite!(threads, [], here: Some(true), logs: true, serial: false);
suite!(processes, [processes], here: Some(false), logs: true, serial: false);

#[test]
fn a_child_process_may_map_on_threads_with_the_parents_worker_count() {
    assert_eq!(
        fanout::pool_map!(|x: u32| x + 1, 0..4; workers = 3),
        [1, 2, 3, 4]
    );
    let in_child =
        fanout::spawn_processes!(|| fanout::pool_map!(|x: u32| x * 2, 0..6; workers = 3));
    assert_eq!(in_child, [0, 2, 4, 6, 8, 10]);
}

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
