//! Every workload twice: with a fanout macro, and as a Rust expert writes it by
//! hand (std::thread::scope, rayon on a pool built once, fork + pipe + waitpid
//! with libc, futures::future::join_all). The Python originals are in
//! `bench/python/`.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use rayon::prelude::*;

use crate::fork;

/// What each thread or process returns: a number.
pub fn number(i: u64) -> u64 {
    black_box(i) * 2 + 1
}

/// The cheap pool item.
pub fn square(i: u64) -> u64 {
    black_box(i) * black_box(i)
}

/// Iterations of [`cpu_item`]: about 1 ms of arithmetic on this machine.
pub const CPU_ITERATIONS: u64 = 730_000;

/// The CPU-bound pool item: a dependent chain of multiply-adds (an LCG), about
/// 1 ms. `bench/python/cpu_pool.py` runs the same loop.
pub fn cpu_item(seed: u64) -> u64 {
    let mut x = black_box(seed);
    for _ in 0..CPU_ITERATIONS {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            >> 1;
    }
    x
}

// ---- 1 000 threads ----

pub fn threads_fanout(n: u64) -> Vec<u64> {
    fanout::spawn_threads!(for i in 0..n => number(i))
}

pub fn threads_hand(n: u64) -> Vec<u64> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || number(i))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ---- thread pools (rayon pools built once, like fanout's) ----

fn rayon_pool(workers: usize) -> &'static rayon::ThreadPool {
    static FOUR: OnceLock<rayon::ThreadPool> = OnceLock::new();
    static TWO: OnceLock<rayon::ThreadPool> = OnceLock::new();
    let cell = match workers {
        4 => &FOUR,
        2 => &TWO,
        _ => unreachable!("the benchmarks use 2 or 4 workers"),
    };
    cell.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap()
    })
}

pub fn pool_fanout(n: u64) -> Vec<u64> {
    fanout::pool_map!(square, 0..n; workers = 4)
}

pub fn pool_hand(n: u64) -> Vec<u64> {
    rayon_pool(4).install(|| (0..n).into_par_iter().map(square).collect())
}

pub fn cpu_pool_fanout(n: u64) -> Vec<u64> {
    fanout::pool_map!(cpu_item, 0..n; workers = 2)
}

pub fn cpu_pool_hand(n: u64) -> Vec<u64> {
    rayon_pool(2).install(|| (0..n).into_par_iter().map(cpu_item).collect())
}

// ---- processes ----

pub fn processes_hand(n: u64) -> Vec<u64> {
    fork::each(n, number)
}

pub fn process_pool_hand(n: u64) -> Vec<u64> {
    fork::split(n, 2, square)
}

pub fn cpu_process_pool_hand(n: u64) -> Vec<u64> {
    fork::split(n, 2, cpu_item)
}

// ---- gather ----

/// A future that returns `Pending` once (waking itself), then its value: the
/// `await asyncio.sleep(0)` of the Python version.
pub struct YieldOnce {
    value: u64,
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.yielded {
            Poll::Ready(self.value)
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub async fn yield_once(i: u64) -> u64 {
    YieldOnce {
        value: number(i),
        yielded: false,
    }
    .await
}

pub fn gather_fanout(n: u64) -> Vec<u64> {
    futures::executor::block_on(async { fanout::gather!(for i in 0..n => yield_once(i)) })
}

pub fn gather_hand(n: u64) -> Vec<u64> {
    futures::executor::block_on(futures::future::join_all((0..n).map(yield_once)))
}

// ---- processes ----

pub fn processes_fanout(n: u64) -> Vec<u64> {
    fanout::spawn_processes!(for i in 0..n => number(i))
}

/// The chunk size of the cheap process pool (also in bench/python/process_pool.py).
pub const PROCESS_CHUNKSIZE: usize = 12_500;

pub fn process_pool_fanout(n: u64) -> Vec<u64> {
    fanout::pool_map!(square, 0..n; processes, workers = 2, chunksize = PROCESS_CHUNKSIZE)
}

pub fn cpu_process_pool_fanout(n: u64) -> Vec<u64> {
    fanout::pool_map!(cpu_item, 0..n; processes, workers = 2)
}
