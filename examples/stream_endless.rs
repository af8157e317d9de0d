//! Beyond the tutorial: an endless stream of work through a pool, in bounded
//! memory.
//!
//! ```python
//! import itertools
//! from concurrent.futures import ThreadPoolExecutor
//!
//! def square(x):
//!     return x * x
//!
//! with ThreadPoolExecutor() as executor:
//!     squares = executor.map(square, itertools.count(), buffersize=64)  # Python 3.14
//!     for n, sq in enumerate(squares):
//!         if n == 1_000_000:
//!             break
//! ```
//!
//! Before Python 3.14, `Executor.map` submits every item before it yields
//! the first result, so over `itertools.count()` it never returns;
//! `buffersize=64` (3.14) keeps at most 64 items submitted ahead of the loop.
//! `multiprocessing.Pool.imap` yields lazily too, but its pool runs ahead of
//! the loop without a bound.
//!
//! `pool_map!(square, 0..; stream, buffer = 64)` returns an `Iterator` of the
//! squares in input order, taking items from the endless range `0..` lazily:
//! at most 64 taken and not yet yielded. The program takes the first
//! 1 000 000 squares and prints the peak resident memory of the process
//! (`VmHWM` in /proc/self/status) after 1 000, 10 000, 100 000 and 1 000 000
//! of them: it stays where it was, where the squares alone, collected, would
//! take 7.6 MiB.
//!
//! `cargo run --example stream_endless`.

use fanout::pool_map;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{seconds, timed};

/// The Python it replaces.
pub const PYTHON: &str = "\
import itertools
from concurrent.futures import ThreadPoolExecutor

def square(x):
    return x * x

with ThreadPoolExecutor() as executor:
    squares = executor.map(square, itertools.count(), buffersize=64)
    for n, sq in enumerate(squares):
        if n == 1_000_000:
            break
";

/// Its concurrency in fanout.
pub const RUST: &str = "pool_map!(square, 0..; stream, buffer = 64)";

/// How many squares the program takes from the endless stream.
pub const TAKEN: usize = 1_000_000;

fn square(x: u64) -> u64 {
    x * x
}

/// The peak resident memory of this process so far, in KiB (`VmHWM`), or
/// `None` where /proc/self/status does not exist (outside Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
}

/// After how many squares the program reads the peak RSS.
pub const CHECKPOINTS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// What one run saw.
pub struct Streamed {
    /// How many squares were taken.
    pub count: usize,
    /// The last square taken.
    pub last: u64,
    /// The sum of the squares taken.
    pub sum: u64,
    /// The peak RSS in KiB after each of [`CHECKPOINTS`] squares.
    pub peaks: Vec<(usize, Option<u64>)>,
}

impl Streamed {
    /// How much the peak RSS grew from the first checkpoint to the last, in
    /// KiB: what the stream needed for 999 000 more squares.
    pub fn growth_kib(&self) -> Option<u64> {
        let first = self.peaks.first()?.1?;
        let last = self.peaks.last()?.1?;
        Some(last.saturating_sub(first))
    }
}

/// Runs the program: the first [`TAKEN`] squares of an endless stream.
pub fn run() -> Streamed {
    let (mut count, mut last, mut sum) = (0, 0, 0);
    let mut peaks = Vec::new();
    for (n, square) in pool_map!(square, 0..; stream, buffer = 64).enumerate() {
        if n == TAKEN {
            break; // dropping the stream stops its workers
        }
        (count, last, sum) = (n + 1, square, sum + square);
        if CHECKPOINTS.contains(&count) {
            peaks.push((count, peak_rss_kib()));
        }
    }
    Streamed {
        count,
        last,
        sum,
        peaks,
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn main() {
    let (streamed, elapsed) = timed(run);
    println!(
        "{} squares of 0.. in {}: the last is {}, their sum {}",
        streamed.count,
        seconds(elapsed),
        streamed.last,
        streamed.sum
    );
    for (count, peak) in &streamed.peaks {
        match peak {
            Some(kib) => println!("  peak RSS after {count:>9} squares: {}", mib(*kib)),
            None => println!("  (no /proc/self/status here: the peak RSS is not shown)"),
        }
    }
    let collected = (streamed.count * size_of::<u64>()) as u64 / 1024;
    if let Some(growth) = streamed.growth_kib() {
        println!(
            "the peak grew by {} over the last 999 000 squares; collected, the squares alone would take {}",
            mib(growth),
            mib(collected)
        );
    }
}
