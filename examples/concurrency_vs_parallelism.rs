//! The tutorial's closing section, "Concurrency versus parallelism"
//! (병행성 및 병렬성의 차이점), as something a learner can watch:
//!
//! - **Concurrency**: several tasks take turns within the same stretch of
//!   time, typically on a single CPU core.
//! - **Parallelism**: several tasks run at the same instant, on several cores.
//!
//! ```python
//! # The same four CPU-bound jobs, three ways.
//! import asyncio, time
//! from concurrent.futures import ProcessPoolExecutor
//! from threading import Thread
//!
//! def crunch(n):
//!     return sum(i * i % 7 for i in range(n))
//!
//! async def crunch_async(n):
//!     total = 0
//!     for part in range(10):
//!         total += sum(i * i % 7 for i in range(n // 10))
//!         await asyncio.sleep(0)  # take turns
//!     return total
//!
//! async def main():
//!     return await asyncio.gather(*(crunch_async(n) for n in jobs))
//!
//! jobs = [3_000_000] * 4
//! asyncio.run(main())                      # concurrency: one thread, interleaved
//! threads = [Thread(target=crunch, args=(n,)) for n in jobs]
//! for t in threads: t.start()
//! for t in threads: t.join()               # CPython's GIL: still one at a time
//! with ProcessPoolExecutor() as pool:
//!     list(pool.map(crunch, jobs))         # parallelism: one process per core
//! ```
//!
//! In Rust the same jobs run three ways, each one line with `timeline`:
//! `gather!` interleaves them on one thread (concurrency: about four jobs'
//! time), `spawn_threads!` and `spawn_processes!` run them on both cores
//! (parallelism: about two jobs' time on this 2-core machine). Unlike
//! CPython's threads, Rust's threads run in parallel. After each run the
//! timeline on stderr shows when each job ran, and where.
//!
//! `cargo run --example concurrency_vs_parallelism`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fanout::{gather, spawn_processes, spawn_threads};

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{scaled, seconds};

/// The tutorial's section, as Python.
pub const PYTHON: &str = "\
# The same four CPU-bound jobs, three ways.
import asyncio, time
from concurrent.futures import ProcessPoolExecutor
from threading import Thread

def crunch(n):
    return sum(i * i % 7 for i in range(n))

async def crunch_async(n):
    total = 0
    for part in range(10):
        total += sum(i * i % 7 for i in range(n // 10))
        await asyncio.sleep(0)  # take turns
    return total

async def main():
    return await asyncio.gather(*(crunch_async(n) for n in jobs))

jobs = [3_000_000] * 4
asyncio.run(main())                      # concurrency: one thread, interleaved
threads = [Thread(target=crunch, args=(n,)) for n in jobs]
for t in threads: t.start()
for t in threads: t.join()               # CPython's GIL: still one at a time
with ProcessPoolExecutor() as pool:
    list(pool.map(crunch, jobs))         # parallelism: one process per core
";

/// The parallel line; the program also runs the concurrent `gather!` and the
/// `spawn_processes!` versions.
pub const RUST: &str = "spawn_threads!(for n in jobs.clone() => crunch(origin, n); timeline)";

/// How many jobs each way runs.
pub const JOBS: usize = 4;

/// How long one job computes, in the tutorial's seconds.
const JOB_SECS: f64 = 0.4;

/// Slices of a job between two turns in the concurrent version.
const SLICES: u64 = 20;

/// One job's arithmetic: `n` steps of the tutorial's `i * i % 7`.
fn arithmetic(from: u64, n: u64) -> u64 {
    (from..from + n)
        .map(|i| std::hint::black_box(i * i % 7))
        .sum()
}

/// Steps of [`arithmetic`] this machine does in `secs` seconds (measured once).
fn steps_for(secs: f64) -> u64 {
    static PER_SECOND: OnceLock<f64> = OnceLock::new();
    let per_second = *PER_SECOND.get_or_init(|| {
        let mut steps = 10_000;
        loop {
            let start = Instant::now();
            arithmetic(0, steps);
            let took = start.elapsed();
            if took >= Duration::from_millis(20) {
                return steps as f64 / took.as_secs_f64();
            }
            steps *= 2;
        }
    });
    ((per_second * secs) as u64).max(SLICES)
}

/// When and where one job ran.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Ran {
    /// The thread (`ThreadId(..)`) or process (`pid ..`) it ran on.
    pub place: String,
    /// Its start, from the start of its run.
    pub start: Duration,
    /// Its end, from the start of its run.
    pub end: Duration,
    /// What it computed.
    pub sum: u64,
}

fn place() -> String {
    format!(
        "pid {} {:?}",
        std::process::id(),
        std::thread::current().id()
    )
}

/// The parallel job: `n` steps at once.
fn crunch(origin: Instant, n: u64) -> Ran {
    let start = origin.elapsed();
    let sum = arithmetic(0, n);
    Ran {
        place: place(),
        start,
        end: origin.elapsed(),
        sum,
    }
}

/// The concurrent job: the same steps in slices, taking turns in between.
async fn crunch_async(origin: Instant, n: u64) -> Ran {
    let start = origin.elapsed();
    let slice = n / SLICES;
    let mut sum = 0;
    for part in 0..SLICES {
        let len = if part == SLICES - 1 {
            n - slice * part
        } else {
            slice
        };
        sum += arithmetic(slice * part, len);
        tokio::task::yield_now().await;
    }
    Ran {
        place: place(),
        start,
        end: origin.elapsed(),
        sum,
    }
}

/// One way of running the jobs: what each job did, and the wall time.
pub struct Way {
    /// `gather!`, `spawn_threads!` or `spawn_processes!`.
    pub name: &'static str,
    /// Each job, in order.
    pub jobs: Vec<Ran>,
    /// The wall time of the whole run.
    pub elapsed: Duration,
}

impl Way {
    /// How many distinct threads or processes the jobs ran on.
    pub fn places(&self) -> usize {
        let mut places: Vec<&str> = self.jobs.iter().map(|j| j.place.as_str()).collect();
        places.sort_unstable();
        places.dedup();
        places.len()
    }

    /// Whether every two jobs overlapped in time (each started before the
    /// other ended): they shared the same stretch of time.
    pub fn all_overlap(&self) -> bool {
        self.jobs
            .iter()
            .all(|a| self.jobs.iter().all(|b| a.start < b.end && b.start < a.end))
    }
}

/// Runs the four jobs three ways.
pub fn run() -> Vec<Way> {
    let steps = steps_for(scaled(JOB_SECS).as_secs_f64());
    let jobs = vec![steps; JOBS];

    let origin = Instant::now();
    let concurrent =
        fanout::run(async { gather!(for n in jobs.clone() => crunch_async(origin, n); timeline) });
    let concurrent = Way {
        name: "gather!",
        jobs: concurrent,
        elapsed: origin.elapsed(),
    };

    let origin = Instant::now();
    let threads = spawn_threads!(for n in jobs.clone() => crunch(origin, n); timeline);
    let threads = Way {
        name: "spawn_threads!",
        jobs: threads,
        elapsed: origin.elapsed(),
    };

    let origin = Instant::now();
    let processes = spawn_processes!(for n in jobs.clone() => crunch(origin, n); timeline);
    let processes = Way {
        name: "spawn_processes!",
        jobs: processes,
        elapsed: origin.elapsed(),
    };

    vec![concurrent, threads, processes]
}

pub fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{JOBS} jobs of {} of arithmetic each, on a machine with {cores} cores:",
        seconds(scaled(JOB_SECS))
    );
    for way in run() {
        let kind = match way.name {
            "gather!" => "concurrency: they take turns on one thread",
            _ => "parallelism: they run at the same time on several cores",
        };
        let overlap = if way.all_overlap() {
            "all jobs overlapped in time"
        } else {
            "some jobs waited for others"
        };
        println!(
            "  {:<17} {} on {} thread(s)/process(es), {overlap} — {kind}",
            way.name,
            seconds(way.elapsed),
            way.places(),
        );
    }
    println!("(the charts on stderr show when each job ran, and where)");
}
