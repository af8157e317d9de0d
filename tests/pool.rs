//! pool_map! on threads: behaviour through the facade.

mod pool_writer;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn square(x: u64) -> u64 {
    x * x
}

#[test]
fn outputs_in_input_order() {
    let squares = fanout::pool_map!(square, 0..10; workers = 5);
    assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    let many = fanout::pool_map!(square, 0..100_000u64);
    assert!(
        many.iter()
            .enumerate()
            .all(|(i, v)| *v == (i as u64) * (i as u64))
    );
}

#[test]
fn items_may_be_owned_borrowed_or_ranges() {
    let words = vec!["a".to_owned(), "bb".to_owned()];
    let borrowed = fanout::pool_map!(|w: &String| w.len(), &words);
    assert_eq!(borrowed, [1, 2]);
    let owned = fanout::pool_map!(|w: String| w + "!", words.clone());
    assert_eq!(owned, ["a!", "bb!"]);
    let filtered = fanout::pool_map!(square, (0..10).filter(|x| x % 3 == 0));
    assert_eq!(filtered, [0, 9, 36, 81]);
    let empty: Vec<u64> = fanout::pool_map!(square, Vec::<u64>::new());
    assert!(empty.is_empty());
}

#[test]
fn closures_borrow_locals() {
    let offset = 100;
    let table = [1, 2, 3];
    let out = fanout::pool_map!(|i: usize| table[i] + offset, 0..3);
    assert_eq!(out, [101, 102, 103]);
}

#[test]
fn workers_bound_the_items_running_at_once() {
    let running = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    fanout::pool_map!(|_: u32| {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(10));
        running.fetch_sub(1, Ordering::SeqCst);
    }, 0..40; workers = 3);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 3, "peak {peak}");
    assert!(peak >= 2, "the pool ran items concurrently (peak {peak})");
}

#[test]
fn five_sleeping_items_on_five_workers_take_one_sleep() {
    let start = Instant::now();
    fanout::pool_map!(|_: u32| std::thread::sleep(Duration::from_millis(200)), 0..5; workers = 5);
    assert!(
        start.elapsed() < Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn chunksize_hands_out_consecutive_items() {
    let threads = Mutex::new(Vec::new());
    fanout::pool_map!(|i: usize| {
        threads.lock().unwrap().push((i, std::thread::current().id()));
    }, 0..20; workers = 2, chunksize = 5);
    let mut seen = threads.into_inner().unwrap();
    seen.sort_by_key(|(i, _)| *i);
    for chunk in seen.chunks(5) {
        let ids: HashSet<_> = chunk.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids.len(), 1, "a chunk of 5 ran on one thread");
    }
}

#[test]
fn items_are_named_by_function_and_index() {
    fn name(_: u32) -> String {
        fanout::current_name().unwrap()
    }
    assert_eq!(
        fanout::pool_map!(name, 0..3),
        ["name-0", "name-1", "name-2"]
    );
    let custom = fanout::pool_map!(|_: u32| fanout::current_name().unwrap(), 0..2; name = "job");
    assert_eq!(custom, ["job-0", "job-1"]);
}

#[test]
fn a_panic_names_the_item_and_stops_new_items() {
    let done = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        fanout::pool_map!(|x: u64| {
            assert!(x != 7, "seven is unlucky");
            std::thread::sleep(Duration::from_millis(100));
            done.fetch_add(1, Ordering::SeqCst);
            x
        }, 0..20; workers = 2, chunksize = 1)
    }));
    let message = fanout::__private::panic_message(&*caught.unwrap_err());
    assert_eq!(message, "worker `task-7` panicked: seven is unlucky");
    let done = done.load(Ordering::SeqCst);
    // Items 0..7 ran; the one running beside item 7 ends; no new item
    // starts once its failure is known (a slow panic hook lets a few more in).
    assert!((7..16).contains(&done), "{done} items ran");
}

#[test]
fn catch_keeps_every_other_result() {
    let out = fanout::pool_map!(|x: u64| {
        assert!(x % 4 != 1, "bad {x}");
        x
    }, 0..8; catch);
    let failed: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, [1, 5]);
    assert_eq!(
        out[5].as_ref().unwrap_err().to_string(),
        "worker `task-5` panicked: bad 5"
    );
    assert_eq!(out[6].as_ref().ok(), Some(&6));
}

#[test]
fn try_returns_the_lowest_index_error_and_stops_handing_out() {
    let started = AtomicUsize::new(0);
    let result: Result<Vec<u32>, String> = fanout::pool_map!(|x: u32| {
        started.fetch_add(1, Ordering::SeqCst);
        if x == 30 || x == 10 { Err(format!("bad {x}")) } else { Ok(x) }
    }, 0..10_000u32; try, workers = 2, chunksize = 1);
    assert_eq!(result.unwrap_err(), "bad 10");
    assert!(
        started.load(Ordering::SeqCst) < 10_000,
        "later items were not started"
    );
    let fine: Result<Vec<u32>, String> = fanout::pool_map!(|x: u32| Ok(x + 1), 0..3; try);
    assert_eq!(fine.unwrap(), [1, 2, 3]);
}

#[test]
fn workers_may_be_computed() {
    let n = 1 + 1;
    assert_eq!(fanout::pool_map!(square, 0..4; workers = n), [0, 1, 4, 9]);
}

/// Set in the copy of this test binary that
/// `a_pool_whose_threads_cannot_start_fails_each_item` starts.
const LIMITED: &str = "FANOUT_TEST_ADDRESS_SPACE_LIMITED";

/// Run by the copy started with [`LIMITED`] set: the address space is
/// limited to what the process maps now and a little more, so that no thread
/// stack (2 MiB) can be mapped, and pool_map! runs on a pool that is not
/// there yet. Prints one line per outcome for the test to read.
fn run_without_room_for_threads() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let vm_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmSize:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap();
    let limit = (vm_kib + 512) * 1024;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit reads the struct passed by reference.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    let caught = fanout::pool_map!(square, 0..5u64; workers = 6, catch);
    for outcome in &caught {
        match outcome {
            Ok(value) => println!("outcome: ok {value}"),
            Err(error) => println!("outcome: err {error}"),
        }
    }
    let unwrapped = catch_unwind(|| fanout::pool_map!(square, 0..5u64; workers = 6));
    match unwrapped {
        Ok(values) => println!("unwrapped: ok {values:?}"),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            println!("unwrapped: panicked {}", message.replace('\n', " "));
        }
    }
}

#[test]
fn a_pool_whose_threads_cannot_start_fails_each_item() {
    if std::env::var_os(LIMITED).is_some() {
        return run_without_room_for_threads();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_pool_whose_threads_cannot_start_fails_each_item",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LIMITED, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest's "test NAME ... " may precede the first line.
    fn after<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
        line.find(tag).map(|at| &line[at + tag.len()..])
    }
    let outcomes: Vec<&str> = stdout
        .lines()
        .filter_map(|line| after(line, "outcome: "))
        .collect();
    assert_eq!(outcomes.len(), 5, "{stdout}");
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(
            outcome.starts_with(&format!(
                "err worker `square-{index}` could not be started: "
            )) && outcome.contains("thread pool"),
            "item {index}: {outcome}"
        );
    }
    let unwrapped = stdout
        .lines()
        .find_map(|line| after(line, "unwrapped: "))
        .unwrap();
    assert!(
        unwrapped.starts_with("panicked ")
            && unwrapped.contains("worker `square-0` could not be started"),
        "{unwrapped}"
    );
}

#[test]
fn a_bad_run_time_option_value_panics_at_the_callers_line() {
    // `workers = 0` is caught at compile time when written as a literal; a
    // run-time 0 panics, and the panic names the line of the macro, not a
    // line inside fanout. Run in a copy of this binary, whose stderr holds
    // the report.
    const BAD: &str = "FANOUT_TEST_BAD_WORKERS";
    if std::env::var_os(BAD).is_some() {
        let n = std::hint::black_box(0usize);
        let line = line!() + 1;
        let _ = std::panic::catch_unwind(|| fanout::pool_map!(square, 0..4u64; workers = n));
        println!("macro line: {line}");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_bad_run_time_option_value_panics_at_the_callers_line",
            "--nocapture",
        ])
        .env(BAD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split("macro line: ").nth(1))
        .expect("the copy ran the map")
        .trim()
        .to_owned();
    assert!(
        stderr.contains(&format!("tests/pool.rs:{line}:")) && stderr.contains("workers"),
        "{stderr}"
    );
}
