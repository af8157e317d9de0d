// Mistake: the number of workers written as a string.
// Python: `ThreadPoolExecutor(max_workers="4")` raises TypeError when it runs.
// Fix: a whole number: `workers = 4`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; workers = "4");
}
