//! gather! and fanout::run: behaviour through the facade.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn task1() -> &'static str {
    tokio::time::sleep(Duration::from_millis(200)).await;
    "Task 1 end"
}

async fn task2() -> usize {
    tokio::time::sleep(Duration::from_millis(100)).await;
    2
}

#[test]
fn run_is_asyncio_run() {
    async fn say_hello() -> String {
        tokio::time::sleep(Duration::from_millis(10)).await;
        "Hello World".to_owned()
    }
    assert_eq!(fanout::run(say_hello()), "Hello World");
}

#[test]
fn gather_runs_futures_concurrently_in_order() {
    let start = Instant::now();
    let (one, two) = fanout::run(async { fanout::gather!(task1(), task2()) });
    assert_eq!((one, two), ("Task 1 end", 2));
    assert!(
        start.elapsed() < Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn loop_form_five_workers_take_one_sleep() {
    async fn worker(num: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        num
    }
    let start = Instant::now();
    let out = fanout::run(async { fanout::gather!(for i in 0..5 => worker(i)) });
    assert_eq!(out, [0, 1, 2, 3, 4]);
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[test]
fn futures_may_borrow_locals_and_non_send_state() {
    let counter = Cell::new(0);
    let names = vec!["a", "b", "c"];
    let out = fanout::run(async {
        fanout::gather!(for name in &names => async {
            counter.set(counter.get() + 1);
            name.to_uppercase()
        })
    });
    assert_eq!(out, ["A", "B", "C"]);
    assert_eq!(counter.get(), 3);
}

#[test]
fn ten_thousand_futures() {
    let out = fanout::run(async {
        fanout::gather!(for i in 0..10_000u32 => async move {
            tokio::task::yield_now().await;
            i * 2
        })
    });
    assert_eq!(out.len(), 10_000);
    assert!(out.iter().enumerate().all(|(i, v)| *v == 2 * i as u32));
}

#[tokio::main]
async fn users_own_main() -> (usize, Vec<usize>) {
    let fixed = fanout::gather!(task2());
    let each = fanout::gather!(for i in 0..3 => async move { i });
    (fixed, each)
}

#[test]
fn gather_inside_a_users_tokio_main() {
    assert_eq!(users_own_main(), (2, vec![0, 1, 2]));
}

#[tokio::test(flavor = "current_thread")]
async fn gather_on_a_current_thread_runtime() {
    let start = Instant::now();
    let (a, b) = fanout::gather!(task1(), task2());
    assert_eq!((a, b), ("Task 1 end", 2));
    assert!(start.elapsed() < Duration::from_millis(290));
}

#[tokio::test]
async fn names_are_current_while_polled() {
    async fn fetch(n: u32) -> String {
        tokio::task::yield_now().await;
        format!("{}:{n}", fanout::current_name().unwrap())
    }
    let (a, b) = fanout::gather!(fetch(1), async { fanout::current_name() });
    assert_eq!(a, "fetch:1");
    assert_eq!(b.as_deref(), Some("task"));
    let each = fanout::gather!(for i in 0..2 => fetch(i); name = "get");
    assert_eq!(each, ["get-0:0", "get-1:1"]);
    assert_eq!(fanout::current_name(), None);
}

#[tokio::test]
async fn a_panic_waits_for_the_others_then_names_the_task() {
    use futures::FutureExt;
    let finished = AtomicUsize::new(0);
    let caught = std::panic::AssertUnwindSafe(async {
        fanout::gather!(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                finished.fetch_add(1, Ordering::SeqCst);
            },
            async { panic!("broken pipe") }
        )
    })
    .catch_unwind()
    .await;
    let message = fanout::__private::panic_message(&*caught.unwrap_err());
    assert_eq!(message, "worker `task` panicked: broken pipe");
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn catch_is_return_exceptions() {
    let (ok, failed) = fanout::gather!(task2(), async { panic!("nope") }; catch);
    assert_eq!(ok.unwrap(), 2);
    let failed: Result<(), _> = failed;
    assert_eq!(
        failed.unwrap_err().to_string(),
        "worker `task` panicked: nope"
    );
    let each = fanout::gather!(for i in 0..3 => async move { assert!(i != 1); i }; catch);
    assert!(each[1].is_err() && each[0].is_ok() && each[2].is_ok());
}

#[tokio::test]
async fn into_future_values_are_accepted() {
    let ready = std::future::ready(5);
    let (a, b) = fanout::gather!(ready, tokio::time::sleep(Duration::from_millis(1)));
    assert_eq!(a, 5);
    let () = b;
}

#[tokio::test]
async fn outputs_that_arrive_out_of_order_keep_input_order() {
    async fn late(i: u64) -> String {
        tokio::time::sleep(Duration::from_millis(10 * (5 - i))).await;
        i.to_string()
    }
    let reversed = fanout::gather!(for i in 0..5 => late(i));
    assert_eq!(reversed, ["0", "1", "2", "3", "4"]);
    // Some in order, then one early: 0 and 1 first, then 4, 3, 2.
    let mixed = fanout::gather!(for i in [4, 3, 0, 1, 2] => late(i));
    assert_eq!(mixed, ["4", "3", "0", "1", "2"]);
}

#[tokio::test]
async fn a_failure_among_out_of_order_outputs_is_raised_after_the_others() {
    use futures::FutureExt;
    let finished = &AtomicUsize::new(0);
    let caught = std::panic::AssertUnwindSafe(async {
        fanout::gather!(for i in 0..4u64 => async move {
            tokio::time::sleep(Duration::from_millis(10 * (4 - i))).await;
            assert!(i != 1, "item {i}");
            finished.fetch_add(1, Ordering::SeqCst);
            i
        })
    })
    .catch_unwind()
    .await;
    let message = fanout::__private::panic_message(&*caught.unwrap_err()).to_owned();
    assert!(message.contains("item 1"), "{message}");
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

/// How many futures run at once: `enter` when one starts, the guard's drop
/// when it ends (or is cancelled); `peak` is the most seen together.
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    const fn new() -> Self {
        InFlight {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn enter(&self) -> impl Drop + '_ {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Leave(self)
    }

    fn peak(&self) -> usize {
        self.peak.swap(0, Ordering::SeqCst)
    }
}

struct Leave<'a>(&'a InFlight);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn spawn_with_a_limit_starts_tasks_as_slots_free_up() {
    static IN_FLIGHT: InFlight = InFlight::new();
    async fn work(i: u64) -> u64 {
        let _running = IN_FLIGHT.enter();
        tokio::time::sleep(Duration::from_millis(20)).await;
        i
    }
    let each = fanout::run(async { fanout::gather!(for i in 0..20 => work(i); spawn, limit = 2) });
    assert_eq!(each, (0..20).collect::<Vec<_>>());
    assert_eq!(IN_FLIGHT.peak(), 2, "loop form");

    let fixed = fanout::run(async {
        fanout::gather!(work(0), work(1), work(2), work(3); spawn, limit = 2)
    });
    assert_eq!(fixed, (0, 1, 2, 3));
    assert_eq!(IN_FLIGHT.peak(), 2, "list form");
}

/// A task that never ends: it bumps `counter` every millisecond, blocking
/// its thread for 5 ms between awaits (so that an abort finds it running).
async fn bump_forever(counter: &'static AtomicUsize) -> Result<(), String> {
    loop {
        for _ in 0..5 {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Whether `counter` stays still for a while (checked right after a gather
/// returned: no task of it may still run).
fn stays_still(counter: &AtomicUsize) -> bool {
    let before = counter.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(30));
    counter.load(Ordering::SeqCst) == before
}

#[test]
fn spawned_tasks_do_not_outlive_a_timeout() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let timeout = Duration::from_millis(30);
    fanout::run(async {
        let each = fanout::gather!(for _ in 0..3 => bump_forever(&COUNTER); spawn, catch, timeout = timeout);
        assert!(each.iter().all(Result::is_err), "{each:?}");
        assert!(stays_still(&COUNTER), "loop form");

        let (a, b) = fanout::gather!(bump_forever(&COUNTER), bump_forever(&COUNTER); spawn, catch, timeout = timeout);
        assert!(a.is_err() && b.is_err());
        assert!(stays_still(&COUNTER), "list form");
    });
    assert!(COUNTER.load(Ordering::SeqCst) > 0);
}

#[test]
fn spawned_tasks_do_not_outlive_try() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    async fn fail_soon() -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err("failed".to_owned())
    }
    fanout::run(async {
        let each = fanout::gather!(for i in 0..3 => async move {
            if i == 1 { fail_soon().await } else { bump_forever(&COUNTER).await }
        }; spawn, try);
        assert_eq!(each, Err("failed".to_owned()));
        assert!(stays_still(&COUNTER), "loop form");

        let tried = fanout::gather!(bump_forever(&COUNTER), fail_soon(), bump_forever(&COUNTER); spawn, try);
        assert_eq!(tried, Err("failed".to_owned()));
        assert!(stays_still(&COUNTER), "list form");
    });
    assert!(COUNTER.load(Ordering::SeqCst) > 0);
}

#[test]
fn dropping_a_spawning_gather_aborts_its_tasks() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    fanout::run(async {
        let gather = async { fanout::gather!(for _ in 0..2 => bump_forever(&COUNTER); spawn) };
        let dropped = tokio::time::timeout(Duration::from_millis(20), gather).await;
        assert!(dropped.is_err());
        // Only aborted, not awaited (a `Drop` cannot await): give the
        // running polls time to end.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(stays_still(&COUNTER));
    });
    assert!(COUNTER.load(Ordering::SeqCst) > 0);
}

#[test]
fn loop_form_async_blocks_borrow_their_surroundings() {
    let in_flight = InFlight::new();
    let now = AtomicUsize::new(0);
    let out = fanout::run(async {
        fanout::gather!(for i in 0..40 => async {
            let _running = in_flight.enter();
            now.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            i
        }; limit = 4)
    });
    assert_eq!(out, (0..40).collect::<Vec<_>>());
    assert_eq!(now.load(Ordering::SeqCst), 40);
    assert_eq!(in_flight.peak(), 4);

    let texts = vec!["1".to_owned(), "x".to_owned()];
    let parsed = fanout::run(async {
        fanout::gather!(for (k, text) in texts.iter().enumerate() => async {
            now.fetch_add(1, Ordering::SeqCst);
            text.parse::<u32>().map(|n| n + k as u32)
        }; catch)
    });
    assert_eq!(parsed[0].as_ref().unwrap(), &Ok(1));
    assert!(parsed[1].as_ref().unwrap().is_err());
    let tried = fanout::run(async {
        fanout::gather!(for text in &texts => async { now.fetch_add(1, Ordering::SeqCst); text.parse::<u32>() }; try)
    });
    assert!(tried.is_err());
    assert_eq!(now.load(Ordering::SeqCst), 44);
}

#[test]
fn timeout_and_spawn_outside_a_tokio_runtime_name_the_fix() {
    fn panic_of(gather: impl std::future::Future) -> String {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(gather);
        }));
        fanout::__private::panic_message(&*caught.unwrap_err()).to_owned()
    }
    let timeout = Duration::from_secs(1);
    let needs = "needs a Tokio runtime: run it inside `fanout::run(...)` or `#[tokio::main]`";
    let fixed = panic_of(async { fanout::gather!(async { 1 }, async { 2 }; timeout = timeout) });
    assert!(
        fixed.starts_with(&format!("gather!(...; timeout) {needs}")),
        "{fixed}"
    );
    let each =
        panic_of(async { fanout::gather!(for i in 0..2 => async move { i }; timeout = timeout) });
    assert!(
        each.starts_with(&format!("gather!(...; timeout) {needs}")),
        "{each}"
    );
    assert!(each.contains("tests/gather.rs"), "{each}");
    let spawned = panic_of(async { fanout::gather!(for i in 0..2 => async move { i }; spawn) });
    assert!(
        spawned.starts_with(&format!("gather!(...; spawn) {needs}")),
        "{spawned}"
    );
    let spawned = panic_of(async { fanout::gather!(async { 1 }; spawn) });
    assert!(
        spawned.starts_with(&format!("gather!(...; spawn) {needs}")),
        "{spawned}"
    );
    // Without them gather! runs on any executor.
    assert_eq!(
        futures::executor::block_on(async {
            fanout::gather!(for i in 0..3 => async move { i }; limit = 2)
        }),
        [0, 1, 2]
    );
}
