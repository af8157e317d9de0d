//! spawn_threads!: behaviour through the facade.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn print_numbers() -> u32 {
    (0..10).sum()
}

fn print_letters() -> String {
    "abcdefghij".to_uppercase()
}

fn worker(i: usize) -> usize {
    std::thread::sleep(Duration::from_millis(100));
    i * 10
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    fanout::__private::panic_message(&*payload)
}

#[test]
fn comma_list_returns_a_tuple_in_task_order() {
    let (numbers, letters) = fanout::spawn_threads!(print_numbers, print_letters);
    assert_eq!(numbers, 45);
    assert_eq!(letters, "ABCDEFGHIJ");
}

#[test]
fn one_task_returns_its_output_alone() {
    let sum: u32 = fanout::spawn_threads!(print_numbers);
    assert_eq!(sum, 45);
    let trailing: u32 = fanout::spawn_threads!(print_numbers,);
    assert_eq!(trailing, 45);
}

#[test]
fn tasks_run_concurrently() {
    let start = Instant::now();
    let out = fanout::spawn_threads!(worker(0), worker(1), worker(2), worker(3), worker(4));
    assert_eq!(out, (0, 10, 20, 30, 40));
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn loop_form_moves_the_pattern_and_borrows_the_rest() {
    let data = [1, 2, 3, 4, 5];
    let start = Instant::now();
    let out = fanout::spawn_threads!(for i in 0..5 => worker(i) + data[i]);
    assert_eq!(out, [1, 12, 23, 34, 45]);
    assert!(start.elapsed() < Duration::from_millis(400));
    // `data` was only borrowed.
    assert_eq!(data.len(), 5);
}

#[test]
fn loop_form_over_owned_items_with_a_pattern() {
    let pairs = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
    let out = fanout::spawn_threads!(for (name, n) in pairs => format!("{name}{n}"));
    assert_eq!(out, ["a1", "b2"]);
}

#[test]
fn tasks_may_mutate_through_shared_sync_state() {
    let total = AtomicUsize::new(0);
    let log = Mutex::new(Vec::new());
    fanout::spawn_threads!(for i in 1..=4 => {
        total.fetch_add(i, Ordering::SeqCst);
        log.lock().unwrap().push(i);
    });
    assert_eq!(total.load(Ordering::SeqCst), 10);
    let mut log = log.into_inner().unwrap();
    log.sort();
    assert_eq!(log, [1, 2, 3, 4]);
}

#[test]
fn workers_are_named() {
    fn name() -> Option<String> {
        fanout::current_name()
    }
    fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }
    let (a, b) = fanout::spawn_threads!(name, thread_name);
    assert_eq!(a.as_deref(), Some("name"));
    assert_eq!(b.as_deref(), Some("thread_name"));

    fn worker(_: usize) -> String {
        fanout::current_name().unwrap()
    }
    let loop_names = fanout::spawn_threads!(for i in 0..5 => worker(i));
    assert_eq!(
        loop_names,
        ["worker-0", "worker-1", "worker-2", "worker-3", "worker-4"]
    );

    let renamed = fanout::spawn_threads!(for _ in 0..2 => thread_name(); name = "io");
    assert_eq!(renamed[1].as_deref(), Some("io-1"));

    let method = fanout::spawn_threads!(Some(1).map(|_| fanout::current_name().unwrap()));
    assert_eq!(method.as_deref(), Some("map"));
    let other = fanout::spawn_threads!({ fanout::current_name() });
    assert_eq!(other.as_deref(), Some("task"));
    assert_eq!(fanout::current_name(), None);
}

struct PrintNumbers {
    upto: u32,
}

impl fanout::Task for PrintNumbers {
    type Output = Vec<u32>;
    fn run(self) -> Vec<u32> {
        (0..self.upto).collect()
    }
}

struct PrintLetters;

impl fanout::Task for PrintLetters {
    type Output = String;
    fn run(self) -> String {
        "abc".into()
    }
}

#[test]
fn task_types_play_the_thread_subclass() {
    let numbers = PrintNumbers { upto: 3 };
    let (n, l) = fanout::spawn_threads!(numbers, PrintLetters);
    assert_eq!(n, [0, 1, 2]);
    assert_eq!(l, "abc");
    let jobs = vec![PrintNumbers { upto: 1 }, PrintNumbers { upto: 2 }];
    let out = fanout::spawn_threads!(for job in jobs => job);
    assert_eq!(out, [vec![0], vec![0, 1]]);
}

#[test]
fn closures_are_called_in_the_worker() {
    let base = 40;
    let job = move || base + 2;
    let (a, b) = fanout::spawn_threads!(job, || std::thread::current().name().map(str::to_owned));
    assert_eq!(a, 42);
    assert_eq!(b.as_deref(), Some("task"));
}

#[test]
fn a_thousand_threads() {
    let out = fanout::spawn_threads!(for i in 0..1000usize => i * 2);
    assert_eq!(out.len(), 1000);
    assert!(out.iter().enumerate().all(|(i, v)| *v == i * 2));
}

#[test]
fn a_panic_waits_for_the_others_then_names_the_worker() {
    let finished = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        fanout::spawn_threads!(for i in 0..4 => {
            if i == 2 {
                panic!("bad item {i}");
            }
            std::thread::sleep(Duration::from_millis(50));
            finished.fetch_add(1, Ordering::SeqCst);
        })
    }));
    let message = panic_message(caught.unwrap_err());
    assert_eq!(message, "worker `task-2` panicked: bad item 2");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        3,
        "the other tasks ran to the end"
    );
}

#[test]
fn several_panics_are_all_listed() {
    let caught = catch_unwind(|| {
        fanout::spawn_threads!(|| -> u8 { panic!("first") }, || 2u8, || -> u8 {
            panic!("second")
        })
    });
    let message = panic_message(caught.unwrap_err());
    assert!(message.starts_with("2 workers failed"), "{message}");
    assert!(
        message.contains("panicked: first") && message.contains("panicked: second"),
        "{message}"
    );
}

#[test]
fn catch_turns_panics_into_errors() {
    let (a, b) = fanout::spawn_threads!(|| 1, || -> i32 { panic!("boom") }; catch);
    assert_eq!(a.unwrap(), 1);
    let error = b.unwrap_err();
    assert_eq!(error.to_string(), "worker `task` panicked: boom");
    assert_eq!(error.worker(), "task");
    assert_eq!(error.panic_message(), Some("boom"));
    let each = fanout::spawn_threads!(for i in 0..3 => { assert!(i != 1, "one"); i }; catch);
    assert_eq!(each[0].as_ref().ok(), Some(&0));
    assert!(
        each[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("`task-1` panicked: one")
    );
    assert_eq!(each[2].as_ref().ok(), Some(&2));
}

#[test]
fn errors_are_std_errors_and_send_sync() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<fanout::Error>();
}

#[test]
fn try_returns_the_first_error_in_task_order() {
    let ok: Result<(i32, u8), std::num::ParseIntError> =
        fanout::spawn_threads!("1".parse::<i32>(), "2".parse::<u8>(); try);
    assert_eq!(ok.unwrap(), (1, 2));
    let finished = AtomicUsize::new(0);
    let err: Result<Vec<i32>, String> = fanout::spawn_threads!(for i in 0..4 => {
        std::thread::sleep(Duration::from_millis(20 * (4 - i as u64)));
        finished.fetch_add(1, Ordering::SeqCst);
        if i >= 1 { Err(format!("item {i}")) } else { Ok(i) }
    }; try);
    assert_eq!(err.unwrap_err(), "item 1");
    assert_eq!(finished.load(Ordering::SeqCst), 4, "all tasks ended first");
}

#[test]
fn try_and_catch_combine() {
    let result: Result<(i32, i32), fanout::Error> = fanout::spawn_threads!(|| Ok(1), || -> Result<i32, fanout::Error> { panic!("boom") }; try, catch);
    assert!(result.unwrap_err().is_panic());
}

#[test]
fn stack_size_is_applied() {
    // A deep recursion that needs more than the default 2 MiB stack.
    fn depth(n: u64) -> u64 {
        let buffer = [n; 64];
        if n == 0 {
            0
        } else {
            std::hint::black_box(buffer)[0].min(1) + depth(n - 1)
        }
    }
    let out = fanout::spawn_threads!(depth(40_000); stack_size = 64 * 1024 * 1024);
    assert_eq!(out, 40_000);
}

#[test]
fn nested_macros() {
    let out = fanout::spawn_threads!(for i in 0..3u64 => fanout::pool_map!(|x: u64| x + i, 0..3u64; workers = 2));
    assert_eq!(out, [vec![0, 1, 2], vec![1, 2, 3], vec![2, 3, 4]]);
    let inner = fanout::spawn_threads!(
        fanout::spawn_threads!(for i in 0..2 => fanout::current_name().unwrap() + &i.to_string())
    );
    assert_eq!(inner, ["task-00", "task-11"]);
}

#[test]
fn works_when_the_dependency_is_renamed() {
    extern crate fanout as renamed;
    let out = renamed::spawn_threads!(for i in 0..3 => i + 1);
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn the_caller_keeps_non_send_values_it_does_not_share() {
    let local = std::rc::Rc::new(5);
    let out = fanout::spawn_threads!(for i in 0..2 => i * 2);
    assert_eq!(*local + out[1], 7);
}

/// The check for an unpolled `async fn` future leaves every other output
/// alone: one whose type is only inferred from what the caller does with it,
/// a future that is `Unpin` (built by hand, not by `async`), and an
/// `async fn` run to its end on the thread.
#[test]
fn outputs_that_are_not_unpolled_async_futures_are_fine() {
    let chunks = [vec![1_u64, 2], vec![3, 4]];
    let sums: Vec<u64> = fanout::spawn_threads!(for chunk in &chunks => chunk.iter().sum());
    assert_eq!(sums, [3, 7]);
    let (first, second): (u64, u64) =
        fanout::spawn_threads!(chunks[0].iter().sum(), chunks[1].iter().sum());
    assert_eq!((first, second), (3, 7));
    let ready = fanout::spawn_threads!(std::future::ready(5));
    assert_eq!(fanout::run(ready), 5);
    async fn fetch(url: &str) -> usize {
        url.len()
    }
    let lens = fanout::spawn_threads!(for url in ["a", "bb"] => fanout::run(fetch(url)));
    assert_eq!(lens, [1, 2]);
    let doubled: Vec<u64> = fanout::pool_map!(|x: &u64| (0..2).map(|_| *x).sum(), &[1, 2]);
    assert_eq!(doubled, [2, 4]);
}
