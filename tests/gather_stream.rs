//! gather!'s streams (`stream`, `unordered`) and races (`race`): behaviour
//! through the facade.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;

/// Sleeps `ms` milliseconds, then returns `value`.
async fn nap<T>(ms: u64, value: T) -> T {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    value
}

/// Counts the futures dropped (finished or cancelled): one guard per future.
struct DropCounter<'a>(&'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The panic message of `f`.
fn panic_of(f: impl FnOnce()) -> String {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    fanout::__private::panic_message(&*caught.expect_err("it should panic")).to_owned()
}

#[test]
fn stream_yields_in_input_order_and_unordered_in_completion_order() {
    // Item i sleeps (4 - i) × 25 ms: the last to start finishes first.
    let (in_order, unordered) = fanout::run(async {
        let in_order: Vec<u64> = fanout::gather!(for i in 0..4 => nap(100 - 25 * i, i); stream)
            .collect()
            .await;
        let unordered: Vec<(usize, u64)> =
            fanout::gather!(for i in 0..4 => nap(100 - 25 * i, i * 10); unordered)
                .collect()
                .await;
        (in_order, unordered)
    });
    assert_eq!(in_order, [0, 1, 2, 3]);
    assert_eq!(unordered, [(3, 30), (2, 20), (1, 10), (0, 0)]);
}

#[test]
fn streams_borrow_the_callers_locals() {
    async fn fetch(client: &str, url: &str) -> String {
        tokio::task::yield_now().await;
        format!("{client} got {url}")
    }
    let client = "client".to_owned();
    let urls = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let pages = fanout::run(async {
        let mut pages = fanout::gather!(for url in &urls => fetch(&client, url); stream, limit = 8);
        let mut got = Vec::new();
        while let Some(page) = pages.next().await {
            got.push(page);
        }
        got
    });
    assert_eq!(pages, ["client got a", "client got b", "client got c"]);
    // An async block borrows too (as in the collecting form).
    let lengths: Vec<usize> = fanout::run(async {
        fanout::gather!(for url in &urls => async { url.len() + client.len() }; stream)
            .collect()
            .await
    });
    assert_eq!(lengths, [7, 7, 7]);
}

#[test]
fn an_endless_input_is_pulled_lazily_within_the_buffer() {
    let taken = AtomicUsize::new(0);
    let items = || {
        (0..).inspect(|_| {
            taken.fetch_add(1, Ordering::SeqCst);
        })
    };
    fanout::run(async {
        // Default buffer: the limit.
        let mut squares = fanout::gather!(for i in items() => nap(i % 3, i * i); stream, limit = 4);
        for yielded in 1..=50u64 {
            let square = squares.next().await.unwrap();
            assert_eq!(square, (yielded - 1) * (yielded - 1));
            assert!(taken.load(Ordering::SeqCst) as u64 <= yielded + 4);
        }
        drop(squares);
        let taken_before = taken.swap(0, Ordering::SeqCst);
        assert!(taken_before >= 50);

        // A buffer wider than the limit, completion order.
        let mut done =
            fanout::gather!(for i in items() => nap(i % 5, i); unordered, limit = 2, buffer = 3);
        for yielded in 1..=30 {
            done.next().await.unwrap();
            assert!(taken.load(Ordering::SeqCst) <= yielded + 3);
        }
        drop(done);
        taken.store(0, Ordering::SeqCst);

        // A buffer narrower than the limit: the buffer bounds the items.
        let mut in_order =
            fanout::gather!(for i in items() => nap(5, i); stream, limit = 8, buffer = 2);
        for yielded in 1..=10 {
            assert_eq!(in_order.next().await, Some(yielded - 1));
            assert!(taken.load(Ordering::SeqCst) as u64 <= yielded + 2);
        }
    });
}

#[test]
fn dropping_a_stream_drops_its_futures_and_starts_no_new_item() {
    let started = AtomicUsize::new(0);
    let dropped = AtomicUsize::new(0);
    fanout::run(async {
        let mut stream = fanout::gather!(for i in 0.. => async {
            let _guard = DropCounter(&dropped);
            started.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(if i < 3 { 1 } else { 10_000 })).await;
            i
        }; stream, limit = 5);
        for i in 0..3 {
            assert_eq!(stream.next().await, Some(i));
        }
        // Items from 3 on are running, sleeping for 10 s (at most 5 taken
        // and not yielded).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let running = started.load(Ordering::SeqCst);
        assert!((4..=8).contains(&running), "{running}");
        drop(stream);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            running,
            "every future was dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            started.load(Ordering::SeqCst),
            running,
            "no new item started"
        );
    });
}

#[test]
fn try_ends_the_stream_after_the_first_error() {
    let started = AtomicUsize::new(0);
    let parse = |text: &'static str| {
        started.fetch_add(1, Ordering::SeqCst);
        async move { text.parse::<u32>() }
    };
    let texts = ["1", "2", "x", "4", "5", "6"];
    let (in_order, unordered) = fanout::run(async {
        let in_order: Vec<_> = fanout::gather!(for t in texts => parse(t); stream, try, limit = 1)
            .collect()
            .await;
        let unordered: Vec<_> =
            fanout::gather!(for t in texts => parse(t); unordered, try, limit = 1)
                .collect()
                .await;
        (in_order, unordered)
    });
    assert_eq!(in_order.len(), 3, "{in_order:?}");
    assert_eq!(in_order[..2], [Ok(1), Ok(2)]);
    assert!(in_order[2].is_err());
    assert_eq!(unordered.len(), 3, "{unordered:?}");
    assert!(unordered[2].1.is_err());
    // With `limit = 1`, nothing after the error was started.
    assert_eq!(started.load(Ordering::SeqCst), 6);

    // In input order, an error known early stops new items at once: none
    // after it could be yielded.
    let started = AtomicUsize::new(0);
    let tried: Vec<Result<u64, String>> = fanout::run(async {
        fanout::gather!(for i in 0..10u64 => async {
            started.fetch_add(1, Ordering::SeqCst);
            match i {
                0 => nap(40, Ok(0)).await,
                1 => Err("one".to_owned()),
                _ => Ok(i),
            }
        }; stream, try, limit = 2)
        .collect()
        .await
    });
    assert_eq!(tried, [Ok(0), Err("one".to_owned())]);
    assert_eq!(started.load(Ordering::SeqCst), 2);

    // With `catch` too, a panic is an error that ends the stream.
    let caught: Vec<Result<u32, fanout::Error>> = fanout::run(async {
        fanout::gather!(for i in 0..5u32 => async move {
            if i == 1 { panic!("boom") }
            Ok::<u32, fanout::Error>(i)
        }; stream, try, catch, limit = 1)
        .collect()
        .await
    });
    assert_eq!(caught.len(), 2);
    assert!(caught[1].as_ref().unwrap_err().is_panic());
}

#[test]
fn catch_yields_each_failure() {
    let outcomes: Vec<(usize, Result<u32, fanout::Error>)> = fanout::run(async {
        fanout::gather!(for i in 0..3u32 => async move {
            if i == 1 { panic!("boom") }
            nap(u64::from(i) * 10, i).await
        }; unordered, catch)
        .collect()
        .await
    });
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0].0, 1);
    assert_eq!(
        outcomes[0].1.as_ref().unwrap_err().to_string(),
        "worker `task-1` panicked: boom"
    );
    assert_eq!(outcomes[1].1.as_ref().unwrap(), &0);
}

#[test]
fn a_failure_panics_where_it_would_be_yielded_after_the_running_items() {
    let finished = AtomicUsize::new(0);
    let mut yielded = Vec::new();
    let message = panic_of(|| {
        fanout::run(async {
            let mut stream = fanout::gather!(for i in 0..10u64 => async {
                if i == 2 { panic!("boom") }
                nap(30, ()).await;
                finished.fetch_add(1, Ordering::SeqCst);
                i
            }; stream, limit = 4);
            while let Some(i) = stream.next().await {
                yielded.push(i);
            }
        })
    });
    assert_eq!(message, "worker `task-2` panicked: boom");
    assert_eq!(yielded, [0, 1]);
    // Items 0, 1, 3 and those started while 0 and 1 were yielded ran to
    // their end; none started after the failure was met.
    let finished = finished.load(Ordering::SeqCst);
    assert!((3..=5).contains(&finished), "{finished}");
}

#[test]
fn progress_and_timeline_work_on_streams() {
    let got: Vec<u32> = fanout::run(async {
        let endless = fanout::gather!(for i in 0.. => async move { i }; stream, limit = 2, progress, timeline);
        endless.take(5).collect().await
    });
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

/// Bumps `counter` every millisecond, forever (blocking its thread for 5 ms
/// between awaits, so that an abort finds it running).
async fn bump_forever(counter: &'static AtomicUsize) -> Result<u32, String> {
    loop {
        for _ in 0..5 {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Whether `counter` stays still for a while.
fn stays_still(counter: &AtomicUsize) -> bool {
    let before = counter.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(30));
    counter.load(Ordering::SeqCst) == before
}

#[test]
fn spawned_streams_run_tasks_and_abort_them_when_they_end() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    fanout::run(async {
        let squares: Vec<u64> =
            fanout::gather!(for i in 0..20u64 => nap(20 - i, i * i); stream, spawn, limit = 4)
                .collect()
                .await;
        assert_eq!(squares, (0..20u64).map(|i| i * i).collect::<Vec<_>>());

        // `try`: the stream ends after the error, once the aborted tasks ended.
        let tried: Vec<Result<u32, String>> = fanout::gather!(for i in 0..4 => async move {
            if i == 1 { nap(20, Err("failed".to_owned())).await } else { bump_forever(&COUNTER).await }
        }; unordered, spawn, try)
        .map(|(_, outcome)| outcome)
        .collect()
        .await;
        assert_eq!(tried, [Err("failed".to_owned())]);
        assert!(stays_still(&COUNTER), "try");

        // Dropped early: the tasks are aborted.
        let mut stream = fanout::gather!(for i in 0.. => async move {
            if i == 0 { Ok(0) } else { bump_forever(&COUNTER).await }
        }; stream, spawn, limit = 3);
        assert_eq!(stream.next().await, Some(Ok(0)));
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(stays_still(&COUNTER), "dropped");
    });
    assert!(COUNTER.load(Ordering::SeqCst) > 0);
}

#[test]
fn race_returns_the_first_to_finish_and_drops_the_losers() {
    let losers_done = AtomicUsize::new(0);
    let mirror = |ms: u64, name: &'static str| {
        let losers_done = &losers_done;
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if ms > 10 {
                losers_done.fetch_add(1, Ordering::SeqCst);
            }
            name
        }
    };
    let (listed, looped) = fanout::run(async {
        let listed = fanout::gather!(mirror(60, "a"), mirror(10, "b"), mirror(40, "c"); race);
        let looped = fanout::gather!(for ms in [50, 30, 10] => mirror(ms, "loop"); race);
        tokio::time::sleep(Duration::from_millis(100)).await;
        (listed, looped)
    });
    assert_eq!(listed, "b");
    assert_eq!(looped, "loop");
    assert_eq!(
        losers_done.load(Ordering::SeqCst),
        0,
        "a loser ran past its sleep"
    );
}

#[test]
fn race_with_try_takes_the_first_ok_or_the_lowest_error() {
    async fn attempt(ms: u64, ok: bool) -> Result<u64, String> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if ok {
            Ok(ms)
        } else {
            Err(format!("failed after {ms}"))
        }
    }
    fanout::run(async {
        let first_ok =
            fanout::gather!(attempt(5, false), attempt(30, true), attempt(60, true); try, race);
        assert_eq!(first_ok, Ok(30));
        let all_failed = fanout::gather!(attempt(30, false), attempt(5, false); try, race);
        assert_eq!(all_failed, Err("failed after 30".to_owned()));
        let looped =
            fanout::gather!(for (ms, ok) in [(5, false), (20, true)] => attempt(ms, ok); try, race);
        assert_eq!(looped, Ok(20));
        // A panic does not win.
        let caught = fanout::gather!(async { panic!("boom") }, nap(20, 2); race, catch);
        assert_eq!(caught.unwrap(), 2);
    });
}

#[test]
fn race_with_a_timeout_fails_when_no_task_finished() {
    let timeout = Duration::from_millis(20);
    fanout::run(async {
        let caught = fanout::gather!(nap(5_000, 1), nap(5_000, 2); race, catch, timeout = timeout);
        assert!(caught.unwrap_err().is_timeout());
        let looped = fanout::gather!(for ms in [5_000, 6_000] => nap(ms, ms); race, catch, timeout = timeout);
        assert!(looped.unwrap_err().is_timeout());
        let in_time = fanout::gather!(nap(5_000, 1), nap(1, 2); race, timeout = timeout);
        assert_eq!(in_time, 2);
    });
    let message = panic_of(|| {
        fanout::run(async {
            fanout::gather!(nap(5_000, 1), nap(5_000, 2); race, timeout = timeout);
        })
    });
    assert!(
        message.contains("no task finished within the timeout"),
        "{message}"
    );
    assert!(message.contains("add `catch`"), "{message}");
}

#[test]
fn spawned_race_losers_are_aborted_before_it_returns() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    fanout::run(async {
        let won =
            fanout::gather!(bump_forever(&COUNTER), async { nap(20, Ok(7)).await }; race, spawn);
        assert_eq!(won, Ok(7));
        assert!(stays_still(&COUNTER), "list form");
        let won = fanout::gather!(for i in 0..3 => async move {
            if i == 2 { nap(20, Ok(i)).await } else { bump_forever(&COUNTER).await }
        }; race, spawn);
        assert_eq!(won, Ok(2));
        assert!(stays_still(&COUNTER), "loop form");
    });
    assert!(COUNTER.load(Ordering::SeqCst) > 0);
}

/// The new forms under the strict lints of `tests/expansion_lints.rs`: the
/// generated code is located on the user's tokens, so it must stay clean.
#[deny(
    warnings,
    rust_2018_idioms,
    unused_qualifications,
    unused_results,
    trivial_casts,
    clippy::all,
    clippy::pedantic
)]
mod strict_lints {
    use std::time::Duration;

    use futures::StreamExt;

    async fn fetch(i: u32) -> u32 {
        tokio::task::yield_now().await;
        i + 1
    }

    async fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
        tokio::task::yield_now().await;
        text.parse()
    }

    #[test]
    fn streams_and_races() {
        fanout::run(async {
            let in_order: Vec<u32> = fanout::gather!(for i in 0..3 => fetch(i); stream, limit = 2)
                .collect()
                .await;
            assert_eq!(in_order, [1, 2, 3]);
            let done: Vec<(usize, Result<u32, fanout::Error>)> =
                fanout::gather!(for i in 0.. => fetch(i); unordered, catch, limit = 2, buffer = 4)
                    .take(3)
                    .collect()
                    .await;
            assert_eq!(done.len(), 3);
            let tried: Vec<Result<u32, _>> =
                fanout::gather!(for text in ["1", "x"] => parse(text); stream, try)
                    .collect()
                    .await;
            assert_eq!(tried.len(), 2);
            let spawned: Vec<u32> = fanout::gather!(for i in 0..3 => fetch(i); stream, spawn)
                .collect()
                .await;
            assert_eq!(spawned, [1, 2, 3]);
            let fastest = fanout::gather!(fetch(1), fetch(2); race);
            assert!(fastest > 0);
            let looped = fanout::gather!(for i in 0..3 => fetch(i); race, spawn, timeout = Duration::from_secs(30));
            assert!(looped > 0);
            let first_ok = fanout::gather!(parse("x"), parse("2"); race, try);
            assert_eq!(first_ok, Ok(2));
            let caught = fanout::gather!(for i in 0..2 => fetch(i); race, catch, limit = 1);
            assert_eq!(caught.ok(), Some(1));
        });
    }
}
