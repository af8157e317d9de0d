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

/// `pool_hand` keeping each item's index in a thread-local, as a worker
/// whose name carries its item must (fanout's floor on cheap items: a store
/// per item more than the map's own).
pub fn pool_named(n: u64) -> Vec<u64> {
    thread_local!(static INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    rayon_pool(4).install(|| {
        (0..n as usize)
            .into_par_iter()
            .map(|k| {
                INDEX.set(k);
                square(k as u64)
            })
            .collect()
    })
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

pub fn processes_guarded(n: u64) -> Vec<u64> {
    fork::each_guarded(n, number)
}

pub fn process_pool_hand(n: u64) -> Vec<u64> {
    fork::split(n, 2, square)
}

pub fn process_pool_answering(n: u64) -> Vec<u64> {
    fork::split_answering(n, 2, square)
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

// ---- unordered: 1 000 random 0–2 ms sleeps, at most 100 at once ----

/// Futures of the unordered workload at once (also in bench/python/unordered.py).
pub const UNORDERED_LIMIT: usize = 100;

/// The sleep of item `i`: 0–2 000 µs from a fixed-seed LCG, the same
/// sequence as bench/python/unordered.py.
pub fn unordered_delay(i: u64) -> std::time::Duration {
    static DELAYS: OnceLock<Vec<u64>> = OnceLock::new();
    let delays = DELAYS.get_or_init(|| {
        let mut x: u64 = 42;
        (0..UNORDERED_ITEMS)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (x >> 33) % 2_001
            })
            .collect()
    });
    std::time::Duration::from_micros(delays[i as usize])
}

/// Items of the unordered workload.
pub const UNORDERED_ITEMS: u64 = 1_000;

/// The current-thread Tokio runtime of the async rows, built once.
fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    })
}

pub async fn sleep_item(i: u64) -> u64 {
    tokio::time::sleep(unordered_delay(i)).await;
    number(i)
}

/// Outputs in completion order, put back at their indices (so both sides'
/// outputs compare equal).
fn by_index(n: u64, pairs: impl IntoIterator<Item = (usize, u64)>) -> Vec<u64> {
    let mut out = vec![0; n as usize];
    for (i, value) in pairs {
        out[i] = value;
    }
    out
}

pub fn unordered_fanout(n: u64) -> Vec<u64> {
    use futures::StreamExt;
    tokio_runtime().block_on(async {
        let mut done = Vec::with_capacity(n as usize);
        let mut stream =
            fanout::gather!(for i in 0..n => sleep_item(i); unordered, limit = UNORDERED_LIMIT);
        while let Some(pair) = stream.next().await {
            done.push(pair);
        }
        by_index(n, done)
    })
}

pub fn unordered_hand(n: u64) -> Vec<u64> {
    use futures::StreamExt;
    tokio_runtime().block_on(async {
        let done: Vec<(usize, u64)> = futures::stream::iter(0..n)
            .map(|i| async move { (i as usize, sleep_item(i).await) })
            .buffer_unordered(UNORDERED_LIMIT)
            .collect()
            .await;
        by_index(n, done)
    })
}

// ---- large output: 256 MiB from one child ----

/// Bytes of the large output (also in bench/python/large_output.py).
pub const LARGE_OUTPUT: usize = 256 << 20;

/// The large output, summarised: its length and first and last bytes.
fn summary(bytes: &[u8]) -> Vec<u64> {
    vec![
        bytes.len() as u64,
        bytes[0].into(),
        bytes[bytes.len() - 1].into(),
    ]
}

pub fn large_output_fanout(_: u64) -> Vec<u64> {
    let bytes: Vec<u8> = fanout::spawn_processes!(|| vec![7u8; LARGE_OUTPUT]);
    summary(&bytes)
}

pub fn large_output_hand(_: u64) -> Vec<u64> {
    summary(&fork::bytes(|| vec![7u8; LARGE_OUTPUT]))
}

// ---- large parent: 20 processes from a parent with 1 GiB resident ----

/// Bytes the large parent holds (also in bench/python/large_parent.py).
pub const LARGE_PARENT: usize = 1 << 30;

/// The parent's 1 GiB, touched (every page resident) and kept alive across
/// rounds.
fn hold_large_parent() {
    static HELD: OnceLock<Vec<u8>> = OnceLock::new();
    black_box(HELD.get_or_init(|| vec![1u8; LARGE_PARENT]).len());
}

pub fn large_parent_fanout(n: u64) -> Vec<u64> {
    hold_large_parent();
    processes_fanout(n)
}

pub fn large_parent_hand(n: u64) -> Vec<u64> {
    hold_large_parent();
    fork::each(n, number)
}

pub fn large_parent_floor(n: u64) -> Vec<u64> {
    hold_large_parent();
    fork::bare(n);
    Vec::new()
}

// ---- tiny map: 8 cheap items on 2 threads, 1 000 calls ----

/// Items per call of the tiny map (also in bench/python/tiny_map.py).
pub const TINY_ITEMS: u64 = 8;

pub fn tiny_map_fanout(calls: u64) -> Vec<u64> {
    (0..calls)
        .map(|c| {
            let squares: Vec<u64> = fanout::pool_map!(square, c..c + TINY_ITEMS; workers = 2);
            squares.iter().sum()
        })
        .collect()
}

pub fn tiny_map_hand(calls: u64) -> Vec<u64> {
    let pool = rayon_pool(2);
    (0..calls)
        .map(|c| {
            let squares: Vec<u64> =
                pool.install(|| (c..c + TINY_ITEMS).into_par_iter().map(square).collect());
            squares.iter().sum()
        })
        .collect()
}

pub fn tiny_map_floor(calls: u64) -> Vec<u64> {
    (0..calls)
        .map(|c| {
            let squares: Vec<u64> = (c..c + TINY_ITEMS).map(square).collect();
            squares.iter().sum()
        })
        .collect()
}

// ---- first result of a 1 000-item map of 1 ms items ----

/// The slow item: 1 ms of sleep, then its number.
pub fn slow_item(i: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(1));
    number(i)
}

pub fn first_result_fanout(n: u64) -> (Vec<u64>, std::time::Duration) {
    let start = std::time::Instant::now();
    let mut stream = fanout::pool_map!(slow_item, 0..n; workers = 2, stream);
    let first = stream.next().expect("a first result");
    let elapsed = start.elapsed();
    drop(stream);
    (vec![first], elapsed)
}

/// Two worker threads take indices from a counter and send `(index, output)`
/// down a bounded crossbeam channel; the caller waits for index 0. Dropping
/// the receiver stops the workers at their next send.
pub fn first_result_hand(n: u64) -> (Vec<u64>, std::time::Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let start = std::time::Instant::now();
    let next = AtomicU64::new(0);
    let (send, receive) = crossbeam_channel::bounded::<(u64, u64)>(4);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let send = send.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || send.send((i, slow_item(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        let first = receive
            .iter()
            .find_map(|(i, value)| (i == 0).then_some(value))
            .expect("a first result");
        let elapsed = start.elapsed();
        next.store(n, Ordering::Relaxed);
        drop(receive);
        (vec![first], elapsed)
    })
}

pub fn first_result_floor(n: u64) -> Vec<u64> {
    fanout::pool_map!(slow_item, 0..n; workers = 2)
}

// ---- race of a 1 ms and a 10 s process ----

/// Sleeps `ms` milliseconds, then returns it.
pub fn nap(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

pub fn race_fanout(_: u64) -> Vec<u64> {
    vec![fanout::spawn_processes!(|| nap(1), || nap(10_000); race)]
}

pub fn race_hand(_: u64) -> Vec<u64> {
    vec![fork::race([1, 10_000], nap)]
}
