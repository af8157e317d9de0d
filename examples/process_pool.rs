//! Tutorial 20.3, `concurrent.futures`: `ProcessPoolExecutor.map` of squares
//! with five worker processes.
//!
//! ```python
//! from concurrent.futures import ProcessPoolExecutor
//!
//! def square(number):
//!     return number * number
//!
//! with ProcessPoolExecutor(max_workers=5) as executor:
//!     numbers = range(10)
//!     results = executor.map(square, numbers)
//!     for result in results:
//!         print(result)
//! ```
//!
//! `pool_map!(square, 0..10; workers = 5, processes)` forks five workers,
//! hands them the numbers in chunks, and returns the squares in input order.
//! The function and the numbers are already in each worker (a forked child is
//! a copy of the parent); only the squares travel back.
//!
//! `cargo run --example process_pool`.

use fanout::pool_map;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;

/// The tutorial's program.
pub const PYTHON: &str = "\
from concurrent.futures import ProcessPoolExecutor

def square(number):
    return number * number

with ProcessPoolExecutor(max_workers=5) as executor:
    numbers = range(10)
    results = executor.map(square, numbers)
    for result in results:
        print(result)
";

/// Its concurrency in fanout.
pub const RUST: &str = "pool_map!(square, 0..10; workers = 5, processes)";

fn square(number: u64) -> u64 {
    number * number
}

/// Runs the program; returns the squares in input order.
pub fn run() -> Vec<u64> {
    pool_map!(square, 0..10; workers = 5, processes)
}

pub fn main() {
    let results = run();
    for result in results {
        println!("{result}");
    }
}
