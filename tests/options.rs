//! The options beyond the tutorial (issue 4): try, timeout, limit, spawn,
//! progress, timeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test]
async fn gather_try_stops_at_the_first_error_in_time_and_cancels_the_rest() {
    let side_effect = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&side_effect);
    let start = Instant::now();
    let result: Result<(u32, u32, u32), String> = fanout::gather!(
        async { sleep_ms(20).await; Ok(1) },
        async { sleep_ms(50).await; Err("second failed".to_owned()) },
        async move {
            sleep_ms(1000).await;
            flag.store(true, Ordering::SeqCst); // must never happen: cancelled
            Ok(3)
        };
        try
    );
    assert_eq!(result.unwrap_err(), "second failed");
    assert!(start.elapsed() < Duration::from_millis(800));
    sleep_ms(1100).await;
    assert!(
        !side_effect.load(Ordering::SeqCst),
        "the pending future was dropped"
    );
}

#[tokio::test]
async fn gather_try_loop_form_reports_the_first_error_in_time() {
    let touched = &AtomicUsize::new(0);
    let result: Result<Vec<u64>, String> = fanout::gather!(for i in 0..5u64 => async move {
        sleep_ms(200 - 40 * i).await; // item 4 ends first, then 3, ...
        if i >= 3 {
            return Err(format!("item {i}"));
        }
        touched.fetch_add(1, Ordering::SeqCst);
        Ok(i)
    }; try);
    assert_eq!(result.unwrap_err(), "item 4");
    sleep_ms(250).await;
    assert_eq!(
        touched.load(Ordering::SeqCst),
        0,
        "the others were cancelled"
    );
    let fine: Result<Vec<u64>, String> =
        fanout::gather!(for i in 0..3u64 => async move { Ok(i) }; try);
    assert_eq!(fine.unwrap(), [0, 1, 2]);
}

#[tokio::test]
async fn gather_try_and_catch_combine() {
    let result: Result<(u8, u8), fanout::Error> =
        fanout::gather!(async { Ok(1) }, async { panic!("kaput") }; try, catch);
    assert_eq!(result.unwrap_err().panic_message(), Some("kaput"));
}

#[tokio::test]
async fn gather_timeout_with_catch() {
    let start = Instant::now();
    let (fast, slow) = fanout::gather!(
        async { sleep_ms(10).await; "fast" },
        async { sleep_ms(5_000).await; "slow" };
        catch, timeout = Duration::from_millis(100)
    );
    assert!(start.elapsed() < Duration::from_millis(2_000));
    assert_eq!(fast.unwrap(), "fast");
    let slow = slow.unwrap_err();
    assert!(slow.is_timeout());
    assert_eq!(slow.to_string(), "worker `task` timed out after 100ms");

    let each = fanout::gather!(for i in 0..4u64 => async move { sleep_ms(if i % 2 == 0 { 5 } else { 5_000 }).await; i };
        catch, timeout = Duration::from_millis(100));
    let timed_out: Vec<bool> = each
        .iter()
        .map(|r| r.as_ref().is_err_and(|e| e.is_timeout()))
        .collect();
    assert_eq!(timed_out, [false, true, false, true]);
}

#[test]
fn gather_timeout_without_catch_panics_naming_the_tasks() {
    let caught = std::panic::catch_unwind(|| {
        fanout::run(async {
            fanout::gather!(for i in 0..3u64 => sleep_ms(if i == 0 { 1 } else { 5_000 }); timeout = Duration::from_millis(50))
        })
    });
    let message = fanout::__private::panic_message(&*caught.unwrap_err());
    assert!(message.starts_with("2 workers failed"), "{message}");
    assert!(
        message.contains("`sleep_ms-1` timed out") && message.contains("`sleep_ms-2` timed out"),
        "{message}"
    );
}

#[tokio::test]
async fn gather_limit_bounds_futures_in_flight() {
    let in_flight = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let work = |i: u64| {
        let (in_flight, peak) = (&in_flight, &peak);
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            sleep_ms(20).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            i
        }
    };
    let out = fanout::gather!(for i in 0..12 => work(i); limit = 3);
    assert_eq!(out, (0..12).collect::<Vec<_>>());
    assert_eq!(peak.load(Ordering::SeqCst), 3);

    peak.store(0, Ordering::SeqCst);
    let fixed = fanout::gather!(work(0), work(1), work(2), work(3); limit = 2);
    assert_eq!(fixed, (0, 1, 2, 3));
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[test]
fn gather_spawn_runs_on_several_threads() {
    let threads = fanout::run(async {
        fanout::gather!(for i in 0..8u64 => async move {
            // CPU work that blocks its thread, so the runtime spreads the tasks.
            std::thread::sleep(Duration::from_millis(30));
            (i, std::thread::current().id())
        }; spawn)
    });
    let distinct: std::collections::HashSet<_> = threads.iter().map(|(_, id)| *id).collect();
    assert!(
        distinct.len() > 1,
        "spawned tasks ran on {} thread(s)",
        distinct.len()
    );
    assert_eq!(
        threads.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn gather_spawn_panics_are_caught_like_any_other() {
    let out = fanout::run(async {
        fanout::gather!(async { 1 }, async { panic!("in a spawned task") }; spawn, catch)
    });
    assert_eq!(out.0.unwrap(), 1);
    let failed: Result<(), _> = out.1;
    assert_eq!(
        failed.unwrap_err().to_string(),
        "worker `task` panicked: in a spawned task"
    );
    let names = fanout::run(async {
        fanout::gather!(for _ in 0..2 => async { fanout::current_name().unwrap() }; spawn, name = "job")
    });
    assert_eq!(names, ["job-0", "job-1"]);
}

#[test]
fn progress_and_timeline_do_not_change_results() {
    let threads = fanout::spawn_threads!(for i in 0..4 => i * 2; progress, timeline);
    assert_eq!(threads, [0, 2, 4, 6]);
    let pool = fanout::pool_map!(|x: u64| x + 1, 0..100; progress, timeline, workers = 2);
    assert_eq!(pool.len(), 100);
    let gathered = fanout::run(async {
        fanout::gather!(for i in 0..3 => async move { i }; progress, timeline)
    });
    assert_eq!(gathered, [0, 1, 2]);
}

/// Runs this test binary again with `FANOUT_SCENARIO` set, capturing stderr.
fn scenario_stderr(name: &str) -> String {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "scenario", "--nocapture", "--test-threads=1"])
        .env("FANOUT_SCENARIO", name)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn scenario() {
    match std::env::var("FANOUT_SCENARIO").as_deref() {
        Ok("timeline") => {
            fanout::spawn_threads!(for i in 0..3 => std::thread::sleep(Duration::from_millis(30 * (i + 1))); timeline);
        }
        Ok("progress") => {
            fanout::pool_map!(|x: u32| x, 0..50; progress);
        }
        _ => {}
    }
}

#[test]
fn timeline_charts_each_task_with_its_thread() {
    let stderr = scenario_stderr("timeline");
    assert!(stderr.contains("timeline of spawn_threads!"), "{stderr}");
    for k in 0..3 {
        let row = stderr
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("sleep-{k} ")))
            .unwrap();
        assert!(
            row.contains('#') && row.contains(&format!("thread sleep-{k}")),
            "{row}"
        );
    }
}

#[test]
fn progress_draws_nothing_when_stderr_is_not_a_terminal() {
    let stderr = scenario_stderr("progress");
    assert!(!stderr.contains("tasks,"), "{stderr}");
}
