//! The tutorial's closing `threading` example: five workers that each sleep
//! for a second, on five threads.
//!
//! ```python
//! import threading
//! import time
//!
//! def worker(num):
//!     print(f"Worker {num} start")
//!     time.sleep(1)
//!     print(f"Worker {num} end")
//!
//! threads = []
//! for i in range(5):
//!     t = threading.Thread(target=worker, args=(i,))
//!     threads.append(t)
//!     t.start()
//!
//! for t in threads:
//!     t.join()
//! ```
//!
//! The two loops are the loop form `spawn_threads!(for i in 0..5 => worker(i))`:
//! one thread per item, named `worker-0` to `worker-4`, all joined before the
//! macro returns the outputs in item order. The five sleeps overlap, so the
//! program takes about 1 s, not 5; it prints how long it took. Each worker
//! returns the name fanout gave its thread.
//!
//! `cargo run --example threading_workers`.

use fanout::spawn_threads;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause, scaled, seconds, timed};

/// The tutorial's program.
pub const PYTHON: &str = "\
import threading
import time

def worker(num):
    print(f\"Worker {num} start\")
    time.sleep(1)
    print(f\"Worker {num} end\")

threads = []
for i in range(5):
    t = threading.Thread(target=worker, args=(i,))
    threads.append(t)
    t.start()

for t in threads:
    t.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_threads!(for i in 0..5 => worker(i))";

fn worker(num: usize) -> String {
    println!("Worker {num} start");
    pause(1.0);
    println!("Worker {num} end");
    fanout::current_name().unwrap_or_default()
}

/// Runs the program; returns the name of each worker's thread.
pub fn run() -> Vec<String> {
    spawn_threads!(for i in 0..5 => worker(i))
}

pub fn main() {
    let (threads, elapsed) = timed(run);
    println!(
        "{} threads ({}) slept {} each: {} in all",
        threads.len(),
        threads.join(", "),
        seconds(scaled(1.0)),
        seconds(elapsed),
    );
}
