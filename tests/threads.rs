use std::time::{Duration, Instant};

fn print_numbers() -> u32 {
    (0..10).sum()
}

fn worker(i: usize) -> usize {
    std::thread::sleep(Duration::from_millis(100));
    i * 10
}

#[test]
fn comma_list_returns_tuple_in_order() {
    let (a, b) = fanout::spawn_threads!(print_numbers, || "abc");
    assert_eq!((a, b), (45, "abc"));
}

#[test]
fn loop_form_borrows_and_orders() {
    let data = vec![1, 2, 3, 4, 5];
    let start = Instant::now();
    let out = fanout::spawn_threads!(for i in 0..5 => worker(i) + data[i]);
    assert_eq!(out, [1, 12, 23, 34, 45]);
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[test]
fn names() {
    let names = fanout::spawn_threads!(for i in 0..3 => { let _ = i; fanout::current_name() });
    assert_eq!(names[1].as_deref(), Some("task-1"));
    let (n,) =
        (fanout::spawn_threads!(std::thread::current().name().map(str::to_owned); name = "io"),);
    assert_eq!(n.as_deref(), Some("io"));
}

#[test]
fn catch() {
    let (a, b) = fanout::spawn_threads!(|| 1, || -> i32 { panic!("boom") }; catch);
    assert_eq!(a.unwrap(), 1);
    assert_eq!(b.unwrap_err().to_string(), "worker `task` panicked: boom");
}

#[test]
fn pool() {
    let v = fanout::pool_map!(|x: u64| x * x, 0..10u64; workers = 5);
    assert_eq!(v, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
}

#[tokio::test]
async fn gather() {
    let (a, b) = fanout::gather!(async { 1 }, async { "x" });
    assert_eq!((a, b), (1, "x"));
    let v = fanout::gather!(for i in 0..5 => async move { i * 2 });
    assert_eq!(v, [0, 2, 4, 6, 8]);
}
