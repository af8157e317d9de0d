//! A parameter sweep on MPI: how a damped oscillator settles, for many
//! damping ratios, one simulation per point, spread over the ranks of an MPI
//! job. The cluster version of `ProcessPoolExecutor.map`, as `mpi4py.futures`
//! writes it:
//!
//! ```python
//! from mpi4py.futures import MPIPoolExecutor
//!
//! with MPIPoolExecutor() as executor:
//!     results = list(executor.map(simulate, dampings))
//! ```
//!
//! In fanout the program is SPMD: every rank runs all of it, and
//! `pool_map!(simulate, dampings; mpi)` returns every result, in order, on
//! every rank. Rank 0 prints the table once.
//!
//! ```text
//! cargo build --release --features mpi --example mpi_sweep
//! mpirun -n 4 target/release/examples/mpi_sweep [POINTS] [STEPS]
//! ```
//!
//! By default 64 points of 2,000,000 steps, about 37 ms each: 2.4 s on one
//! rank, 1.26 s on two (docs/mpi.md).
//!
//! Each rank ends with a line `rank R/N: P results, digest D`: the digest is
//! the same on every rank, and for any number of ranks.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use fanout::mpi;
use fanout::pool_map;

/// What one simulation found.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Settling {
    /// The damping ratio ζ.
    damping: f64,
    /// The last time |x| was above 2% of the start (seconds).
    settling_time: f64,
    /// The largest swing below zero, as a fraction of the start.
    overshoot: f64,
    /// How many times the oscillator crossed zero before it settled.
    crossings: u32,
    /// The rank that ran the simulation (not part of the digest: it depends on
    /// the scheduling).
    rank: usize,
}

/// Integrates x'' + 2ζω x' + ω² x = 0 from x = 1, x' = 0 with RK4 for `steps`
/// steps of 0.1 ms (ω = 2π: a 1 s period).
fn simulate(damping: f64, steps: u32) -> Settling {
    const DT: f64 = 1e-4;
    let omega = std::f64::consts::TAU;
    let accel = |x: f64, v: f64| -2.0 * damping * omega * v - omega * omega * x;
    let (mut x, mut v) = (1.0_f64, 0.0_f64);
    let (mut settling_time, mut overshoot) = (0.0, 0.0_f64);
    let (mut crossings, mut crossed) = (0, 0);
    for step in 1..=steps {
        let (k1x, k1v) = (v, accel(x, v));
        let (k2x, k2v) = (
            v + 0.5 * DT * k1v,
            accel(x + 0.5 * DT * k1x, v + 0.5 * DT * k1v),
        );
        let (k3x, k3v) = (
            v + 0.5 * DT * k2v,
            accel(x + 0.5 * DT * k2x, v + 0.5 * DT * k2v),
        );
        let (k4x, k4v) = (v + DT * k3v, accel(x + DT * k3x, v + DT * k3v));
        let next = x + DT / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x);
        v += DT / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v);
        if next.signum() != x.signum() {
            crossed += 1;
        }
        x = next;
        overshoot = overshoot.max(-x);
        if x.abs() > 0.02 {
            settling_time = f64::from(step) * DT;
            crossings = crossed;
        }
    }
    Settling {
        damping,
        settling_time,
        overshoot,
        crossings,
        rank: mpi::rank(),
    }
}

/// A hash of the physics of every result, in order.
fn digest(results: &[Settling]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for r in results {
        (r.damping.to_bits(), r.settling_time.to_bits()).hash(&mut hasher);
        (r.overshoot.to_bits(), r.crossings).hash(&mut hasher);
    }
    hasher.finish()
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let points = args.next().and_then(Result::ok).unwrap_or(64);
    let steps = args.next().and_then(Result::ok).unwrap_or(2_000_000);
    // Damping ratios from 0.02 (rings for a long time) to 1.5 (overdamped).
    let dampings: Vec<f64> = (0..points)
        .map(|k| 0.02 + 1.48 * f64::from(k) / f64::from(points.max(2) - 1))
        .collect();

    // The first call starts MPI (before the clock starts, since it is not the
    // sweep's work).
    mpi::print_once(format_args!(
        "sweeping {points} damping ratios ({steps} steps each) on {} ranks",
        mpi::size()
    ));
    let start = Instant::now();
    let results = pool_map!(|d| simulate(d, steps), dampings; mpi, name = "simulate");
    let elapsed = start.elapsed();

    mpi::print_once("damping  settling(s)  overshoot  crossings  rank");
    for r in &results {
        mpi::print_once(format_args!(
            "{:7.3}  {:11.3}  {:9.4}  {:9}  {:4}",
            r.damping, r.settling_time, r.overshoot, r.crossings, r.rank
        ));
    }
    let mut per_rank = vec![0; mpi::size()];
    for r in &results {
        per_rank[r.rank] += 1;
    }
    mpi::print_once(format_args!(
        "{points} points on {} ranks in {:.3} s (points per rank: {per_rank:?})",
        mpi::size(),
        elapsed.as_secs_f64()
    ));
    println!(
        "rank {}/{}: {} results, digest {:016x}",
        mpi::rank(),
        mpi::size(),
        results.len(),
        digest(&results)
    );
}
