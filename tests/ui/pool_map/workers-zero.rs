// Mistake: a pool without workers.
// Python: `ThreadPoolExecutor(max_workers=0)` raises ValueError at run time.
// Fix: at least one worker, or leave `workers` out for one per core.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; workers = 0);
}
