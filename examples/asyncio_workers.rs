//! The tutorial's closing `asyncio` example: five coroutines that each sleep
//! for a second, gathered.
//!
//! ```python
//! import asyncio
//!
//! async def worker(num):
//!     print(f"Worker {num} start")
//!     await asyncio.sleep(1)
//!     print(f"Worker {num} end")
//!
//! async def main():
//!     await asyncio.gather(*(worker(i) for i in range(5)))
//!
//! asyncio.run(main())
//! ```
//!
//! The generator splatted into `gather` is the loop form
//! `gather!(for i in 0..5 => worker(i))`: the five futures are created in
//! order, polled together on one task, and their outputs come back in item
//! order. No thread sleeps, so the program takes about 1 s, not 5; it prints
//! how long it took. Each worker returns its name (`worker-0`, ...).
//!
//! `cargo run --example asyncio_workers`.

use fanout::gather;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause_async, scaled, seconds, timed};

/// The tutorial's program.
pub const PYTHON: &str = "\
import asyncio

async def worker(num):
    print(f\"Worker {num} start\")
    await asyncio.sleep(1)
    print(f\"Worker {num} end\")

async def main():
    await asyncio.gather(*(worker(i) for i in range(5)))

asyncio.run(main())
";

/// Its concurrency in fanout.
pub const RUST: &str = "gather!(for i in 0..5 => worker(i))";

async fn worker(num: usize) -> String {
    println!("Worker {num} start");
    pause_async(1.0).await;
    println!("Worker {num} end");
    fanout::current_name().unwrap_or_default()
}

/// Runs the program; returns each future's worker name, in item order.
pub fn run() -> Vec<String> {
    fanout::run(async { gather!(for i in 0..5 => worker(i)) })
}

pub fn main() {
    let (workers, elapsed) = timed(run);
    println!(
        "{} futures ({}) slept {} each: {} in all",
        workers.len(),
        workers.join(", "),
        seconds(scaled(1.0)),
        seconds(elapsed),
    );
}
