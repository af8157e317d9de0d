//! The tutorial's closing `multiprocessing` example: five workers that each
//! sleep for a second, in five processes.
//!
//! ```python
//! from multiprocessing import Process
//! import time
//!
//! def worker(num):
//!     print(f"Worker {num} start")
//!     time.sleep(1)
//!     print(f"Worker {num} end")
//!
//! processes = []
//! for i in range(5):
//!     p = Process(target=worker, args=(i,))
//!     processes.append(p)
//!     p.start()
//!
//! for p in processes:
//!     p.join()
//! ```
//!
//! (The tutorial forgets `import time`; it is added here.)
//!
//! `spawn_processes!(for i in 0..5 => worker(i))` forks one child per item
//! (named `worker-0` to `worker-4`) and reaps them all before it returns the
//! outputs in item order. The five sleeps overlap, so the program takes about
//! 1 s, not 5; it prints how long it took. Each worker returns its process id.
//!
//! `cargo run --example multiprocessing_workers`.

use fanout::spawn_processes;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause, scaled, seconds, timed};

/// The tutorial's program, with its missing `import time`.
pub const PYTHON: &str = "\
from multiprocessing import Process
import time

def worker(num):
    print(f\"Worker {num} start\")
    time.sleep(1)
    print(f\"Worker {num} end\")

processes = []
for i in range(5):
    p = Process(target=worker, args=(i,))
    processes.append(p)
    p.start()

for p in processes:
    p.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_processes!(for i in 0..5 => worker(i))";

fn worker(num: usize) -> u32 {
    println!("Worker {num} start");
    pause(1.0);
    println!("Worker {num} end");
    std::process::id()
}

/// Runs the program; returns the process id of each worker, in item order.
pub fn run() -> Vec<u32> {
    spawn_processes!(for i in 0..5 => worker(i))
}

pub fn main() {
    let (pids, elapsed) = timed(run);
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!(
        "{} processes (pids {}) slept {} each: {} in all",
        pids.len(),
        pids.join(", "),
        seconds(scaled(1.0)),
        seconds(elapsed),
    );
}
