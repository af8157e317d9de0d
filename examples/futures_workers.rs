//! The tutorial's closing `concurrent.futures` example: five workers that
//! each sleep for a second, mapped on a pool of five threads.
//!
//! ```python
//! from concurrent.futures import ThreadPoolExecutor
//! import time
//!
//! def worker(num):
//!     print(f"Worker {num} start")
//!     time.sleep(1)
//!     print(f"Worker {num} end")
//!
//! with ThreadPoolExecutor(max_workers=5) as executor:
//!     executor.map(worker, range(5))
//! ```
//!
//! `pool_map!(worker, 0..5; workers = 5)` maps `worker` over the five numbers
//! on a pool of five threads and returns the outputs in input order. The
//! sleeps overlap, so the program takes about 1 s, not 5; it prints how long
//! it took. Each worker returns its name (`worker-0` for item 0, ...).
//!
//! `cargo run --example futures_workers`.

use fanout::pool_map;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause, scaled, seconds, timed};

/// The tutorial's program.
pub const PYTHON: &str = "\
from concurrent.futures import ThreadPoolExecutor
import time

def worker(num):
    print(f\"Worker {num} start\")
    time.sleep(1)
    print(f\"Worker {num} end\")

with ThreadPoolExecutor(max_workers=5) as executor:
    executor.map(worker, range(5))
";

/// Its concurrency in fanout.
pub const RUST: &str = "pool_map!(worker, 0..5; workers = 5)";

fn worker(num: usize) -> String {
    println!("Worker {num} start");
    pause(1.0);
    println!("Worker {num} end");
    fanout::current_name().unwrap_or_default()
}

/// Runs the program; returns each item's worker name, in input order.
pub fn run() -> Vec<String> {
    pool_map!(worker, 0..5; workers = 5)
}

pub fn main() {
    let (workers, elapsed) = timed(run);
    println!(
        "{} pool items ({}) slept {} each: {} in all",
        workers.len(),
        workers.join(", "),
        seconds(scaled(1.0)),
        seconds(elapsed),
    );
}
