//! Beyond the tutorial: run two solvers, take the first answer, stop the
//! other.
//!
//! ```python
//! import asyncio
//! from concurrent.futures import ProcessPoolExecutor, wait, FIRST_COMPLETED
//!
//! with ProcessPoolExecutor() as pool:
//!     futures = [pool.submit(solve_exact, p), pool.submit(solve_heuristic, p)]
//!     done, pending = wait(futures, timeout=5, return_when=FIRST_COMPLETED)
//!     best = done.pop().result()
//!     pool.terminate_workers()  # Python 3.14; before, the pool waits for the loser
//!
//! async def main():
//!     tasks = [asyncio.create_task(mirror_a()), asyncio.create_task(mirror_b())]
//!     done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
//!     for task in pending:
//!         task.cancel()
//!     return done.pop().result()
//! ```
//!
//! The problem is a travelling salesman's round trip through 13 cities. The
//! exact solver tries every order (12! = 479 001 600 of them: minutes of
//! work); the heuristic, nearest neighbour, answers in microseconds with a
//! round trip that is a little longer. `spawn_processes!(solve_exact(&p),
//! solve_heuristic(&p); race, timeout = Duration::from_secs(5))` runs each in
//! its own child process, returns the first answer, and kills and reaps the
//! other child at once; the timeout bounds the whole race. In Python a
//! running future cannot be cancelled, so `ProcessPoolExecutor` waits for the
//! loser unless its workers are terminated.
//!
//! `gather!(mirror_a(), mirror_b(); race)` is the async race: two mirrors of
//! one file, 0.8 s and 0.3 s away (divided by `FANOUT_TOUR_SPEED`); the first
//! download wins and the other future is dropped, which cancels it.
//!
//! `cargo run --example race_solvers`.

use std::time::{Duration, Instant};

use fanout::{gather, spawn_processes};

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause_async, seconds};

/// The Python it replaces.
pub const PYTHON: &str = "\
import asyncio
from concurrent.futures import ProcessPoolExecutor, wait, FIRST_COMPLETED

with ProcessPoolExecutor() as pool:
    futures = [pool.submit(solve_exact, p), pool.submit(solve_heuristic, p)]
    done, pending = wait(futures, timeout=5, return_when=FIRST_COMPLETED)
    best = done.pop().result()
    pool.terminate_workers()

async def main():
    tasks = [asyncio.create_task(mirror_a()), asyncio.create_task(mirror_b())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return done.pop().result()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_processes!(solve_exact(&p), solve_heuristic(&p); race, timeout = Duration::from_secs(5))";

/// How many cities the round trip visits.
pub const CITIES: usize = 13;

/// A travelling salesman's problem: the cities' coordinates.
pub struct Problem {
    pub cities: Vec<(f64, f64)>,
}

impl Problem {
    /// `n` cities, spread pseudo-randomly (and always the same) over a
    /// 100 × 100 square.
    pub fn new(n: usize) -> Problem {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 100.0
        };
        Problem {
            cities: (0..n).map(|_| (next(), next())).collect(),
        }
    }

    fn distance(&self, a: usize, b: usize) -> f64 {
        let ((xa, ya), (xb, yb)) = (self.cities[a], self.cities[b]);
        (xa - xb).hypot(ya - yb)
    }

    /// The length of the round trip that visits `order` and comes back.
    pub fn length(&self, order: &[usize]) -> f64 {
        let legs = order.windows(2).map(|w| self.distance(w[0], w[1]));
        let back = match (order.first(), order.last()) {
            (Some(&first), Some(&last)) => self.distance(last, first),
            _ => 0.0,
        };
        legs.sum::<f64>() + back
    }
}

/// A solver's answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Solution {
    /// Which solver found it.
    pub solver: String,
    /// The cities in the order visited, from city 0.
    pub order: Vec<usize>,
    /// The round trip's length.
    pub length: f64,
}

/// Tries every order of the cities after city 0 (Heap's algorithm) and keeps
/// the shortest round trip.
pub fn solve_exact(problem: &Problem) -> Solution {
    let mut order: Vec<usize> = (0..problem.cities.len()).collect();
    let mut best = (problem.length(&order), order.clone());
    let rest = order.len().saturating_sub(1);
    let mut counters = vec![0; rest];
    let mut i = 0;
    while i < rest {
        if counters[i] < i {
            let swap = if i % 2 == 0 { 0 } else { counters[i] };
            order.swap(1 + swap, 1 + i);
            let length = problem.length(&order);
            if length < best.0 {
                best = (length, order.clone());
            }
            counters[i] += 1;
            i = 0;
        } else {
            counters[i] = 0;
            i += 1;
        }
    }
    Solution {
        solver: "exact".to_owned(),
        order: best.1,
        length: best.0,
    }
}

/// Nearest neighbour: from city 0, always on to the closest city not yet
/// visited.
pub fn solve_heuristic(problem: &Problem) -> Solution {
    let mut order = vec![0];
    let mut left: Vec<usize> = (1..problem.cities.len()).collect();
    while let Some(&here) = order.last() {
        let Some(closest) = (0..left.len()).min_by(|&a, &b| {
            problem
                .distance(here, left[a])
                .total_cmp(&problem.distance(here, left[b]))
        }) else {
            break;
        };
        order.push(left.swap_remove(closest));
    }
    Solution {
        solver: "nearest neighbour".to_owned(),
        length: problem.length(&order),
        order,
    }
}

/// How far away each mirror is, in the tutorial's seconds.
pub const MIRROR_A_SECS: f64 = 0.8;
pub const MIRROR_B_SECS: f64 = 0.3;

async fn mirror_a() -> String {
    pause_async(MIRROR_A_SECS).await;
    "fanout-0.1.0.tar.gz from mirror a".to_owned()
}

async fn mirror_b() -> String {
    pause_async(MIRROR_B_SECS).await;
    "fanout-0.1.0.tar.gz from mirror b".to_owned()
}

/// What one run saw.
pub struct Raced {
    /// The solver that answered first.
    pub solution: Solution,
    /// How long the solvers' race took.
    pub solved_in: Duration,
    /// The mirror's download that arrived first.
    pub download: String,
    /// How long the mirrors' race took.
    pub downloaded_in: Duration,
}

/// Runs both races.
pub fn run() -> Raced {
    let p = Problem::new(CITIES);
    let start = Instant::now();
    let solution = spawn_processes!(solve_exact(&p), solve_heuristic(&p); race, timeout = Duration::from_secs(5));
    let solved_in = start.elapsed();

    let (download, downloaded_in) = fanout::run(async {
        let start = Instant::now();
        let download = gather!(mirror_a(), mirror_b(); race);
        (download, start.elapsed())
    });
    Raced {
        solution,
        solved_in,
        download,
        downloaded_in,
    }
}

pub fn main() {
    let raced = run();
    let solution = &raced.solution;
    println!(
        "{CITIES} cities: the {} solver answered first, in {}: round trip {:.1} long, {:?}",
        solution.solver,
        seconds(raced.solved_in),
        solution.length,
        solution.order
    );
    println!("the other solver's process was killed and reaped when the race ended");
    println!(
        "mirrors {} and {} away: {} won, in {}; the other download was cancelled",
        seconds(crate::common::scaled(MIRROR_A_SECS)),
        seconds(crate::common::scaled(MIRROR_B_SECS)),
        raced.download,
        seconds(raced.downloaded_in)
    );
}
