// Mistake: a timeout on a pool of threads.
// Python: `executor.map(f, items, timeout=1)` raises TimeoutError in the
// caller, but the threads keep running the items in the background.
// Fix: a process can be killed: `pool_map!(f, items; processes, timeout = ...)`.
use std::time::Duration;

fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; timeout = Duration::from_secs(1));
}
