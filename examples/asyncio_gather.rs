//! Tutorial 20.4, `asyncio.gather`: two coroutines wait at the same time.
//!
//! ```python
//! import asyncio
//!
//! async def task1():
//!     print("Task 1 start")
//!     await asyncio.sleep(2)
//!     print("Task 1 end")
//!
//! async def task2():
//!     print("Task 2 start")
//!     await asyncio.sleep(1)
//!     print("Task 2 end")
//!
//! async def main():
//!     await asyncio.gather(task1(), task2())
//!
//! asyncio.run(main())
//! ```
//!
//! `gather!(task1(), task2())` polls both futures together on the current
//! task and returns their outputs as a tuple, in task order: task 2 ends
//! first, and the whole program takes 2 s, not 3. Each task returns the lines
//! it printed.
//!
//! `cargo run --example asyncio_gather`.

use fanout::gather;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause_async, say};

/// The tutorial's program.
pub const PYTHON: &str = "\
import asyncio

async def task1():
    print(\"Task 1 start\")
    await asyncio.sleep(2)
    print(\"Task 1 end\")

async def task2():
    print(\"Task 2 start\")
    await asyncio.sleep(1)
    print(\"Task 2 end\")

async def main():
    await asyncio.gather(task1(), task2())

asyncio.run(main())
";

/// Its concurrency in fanout.
pub const RUST: &str = "gather!(task1(), task2())";

async fn task1() -> Vec<String> {
    let start = say("Task 1 start");
    pause_async(2.0).await;
    vec![start, say("Task 1 end")]
}

async fn task2() -> Vec<String> {
    let start = say("Task 2 start");
    pause_async(1.0).await;
    vec![start, say("Task 2 end")]
}

/// Runs the program; returns the lines each task printed.
pub fn run() -> (Vec<String>, Vec<String>) {
    fanout::run(async { gather!(task1(), task2()) })
}

pub fn main() {
    run();
}
