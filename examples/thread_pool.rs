//! Tutorial 20.3, `concurrent.futures`: `ThreadPoolExecutor.map` over ten
//! numbers with five workers.
//!
//! ```python
//! from concurrent.futures import ThreadPoolExecutor
//!
//! def print_number(number):
//!     print(number)
//!
//! with ThreadPoolExecutor(max_workers=5) as executor:
//!     numbers = range(10)
//!     executor.map(print_number, numbers)
//! ```
//!
//! `pool_map!(print_number, 0..10; workers = 5)` is the `with` block: a pool
//! of five threads maps the function over the numbers and returns every
//! output in input order, whatever order the numbers were printed in. Here
//! `print_number` returns the line it printed.
//!
//! `cargo run --example thread_pool`.

use fanout::pool_map;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::say;

/// The tutorial's program.
pub const PYTHON: &str = "\
from concurrent.futures import ThreadPoolExecutor

def print_number(number):
    print(number)

with ThreadPoolExecutor(max_workers=5) as executor:
    numbers = range(10)
    executor.map(print_number, numbers)
";

/// Its concurrency in fanout.
pub const RUST: &str = "pool_map!(print_number, 0..10; workers = 5)";

fn print_number(number: u32) -> String {
    say(number)
}

/// Runs the program; returns the printed lines in input order.
pub fn run() -> Vec<String> {
    pool_map!(print_number, 0..10; workers = 5)
}

pub fn main() {
    run();
}
