//! A pool of worker threads that maps a function over items: what
//! `pool_map!(f, items)` expands to (Python's `ThreadPoolExecutor.map`).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use crate::error::Error;
use crate::name::{self, WorkerName};
use crate::report::Report;

/// Options of a pool (`pool_map!(f, items; workers = 4, chunksize = 100)`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PoolOptions {
    /// At most this many items run at once; the machine's available
    /// parallelism by default.
    pub workers: Option<usize>,
    /// How many consecutive items a worker takes at a time; by default about
    /// four chunks per worker, so that the load balances.
    pub chunksize: Option<usize>,
    /// Process pools only: items still running at this deadline (from the
    /// start of the map) are stopped; their outcome is a timed-out error.
    pub timeout: Option<std::time::Duration>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print a chart of when each item ran on stderr afterwards.
    pub timeline: bool,
}

impl PoolOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of workers.
    ///
    /// # Panics
    /// If `workers` is 0.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        assert!(workers > 0, "fanout: a pool needs at least one worker");
        self.workers = Some(workers);
        self
    }

    /// Sets the chunk size.
    ///
    /// # Panics
    /// If `chunksize` is 0.
    #[must_use]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        assert!(chunksize > 0, "fanout: chunksize must be at least 1");
        self.chunksize = Some(chunksize);
        self
    }

    /// Sets the deadline (process pools only).
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Turns the progress bar on or off.
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Turns the timeline chart on or off.
    #[must_use]
    pub fn timeline(mut self, on: bool) -> Self {
        self.timeline = on;
        self
    }

    /// The number of workers these options give.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(default_workers).max(1)
    }

    /// The chunk size for `len` items.
    pub fn chunk_for(&self, len: usize) -> usize {
        self.chunksize
            .unwrap_or_else(|| len.div_ceil(self.worker_count() * 4))
            .max(1)
    }
}

/// The machine's available parallelism (at least 1).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread pool with `workers` threads, built on first use and kept for
/// the life of the program, as a `ThreadPoolExecutor` held in a global would be.
pub fn thread_pool(workers: usize) -> &'static rayon::ThreadPool {
    static POOLS: OnceLock<Mutex<HashMap<usize, &'static rayon::ThreadPool>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    pools.entry(workers).or_insert_with(|| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(move |k| format!("fanout-pool-{workers}-{k}"))
            .build()
            .unwrap_or_else(|e| panic!("fanout: cannot start a pool of {workers} threads: {e}"));
        Box::leak(Box::new(pool))
    })
}

/// Maps `f` over `items` on a pool of threads and returns the outcome of every
/// item, in input order (`pool_map!(f, items; catch)`).
///
/// Every item runs, even when others panic. Item `k` runs as the worker
/// `base-k`.
///
/// ```
/// use fanout::__private::{WorkerName, pool};
///
/// let outcomes = pool::map(&pool::PoolOptions::new().workers(2), WorkerName::new("check"), 0..4, |x| {
///     assert!(x != 2, "two is not allowed");
///     x * 10
/// });
/// assert_eq!(outcomes[1].as_ref().ok(), Some(&10));
/// assert_eq!(outcomes[2].as_ref().unwrap_err().to_string(), "worker `check-2` panicked: two is not allowed");
/// ```
pub fn map<I, F, T>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<T, Error>>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> T + Sync,
    T: Send,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let report = Report::new(options.timeline, options.progress);
    report.expect(items.len());
    let chunk = options.chunk_for(items.len());
    let mut out = Vec::new();
    thread_pool_for(options).install(|| {
        items
            .into_par_iter()
            .with_min_len(options.chunksize.unwrap_or(1))
            .with_max_len(chunk)
            .enumerate()
            .map(|(index, item)| {
                let name = base.with_index(index);
                let _name = name::enter(name);
                let started = report.start(name);
                let outcome = catch_unwind(AssertUnwindSafe(|| f(item)))
                    .map_err(|payload| Error::from_panic(name, &*payload));
                report.end(started);
                outcome
            })
            .collect_into_vec(&mut out);
    });
    report.finish("pool_map!");
    out
}

/// Maps `f` over `items` on a pool of threads and returns every output in
/// input order (`pool_map!(f, items)`).
///
/// # Panics
/// If an item panics: the caller panics with a message that names the item's
/// worker (`square-3`) and quotes its panic, once the running items ended.
///
/// ```
/// use fanout::__private::{WorkerName, pool};
///
/// let squares = pool::map_unwrap(&pool::PoolOptions::new().workers(5), WorkerName::new("square"), 0..10, |x| x * x);
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// ```
#[track_caller]
pub fn map_unwrap<I, F, T>(options: &PoolOptions, base: WorkerName, items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> T + Sync,
    T: Send,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let report = Report::new(options.timeline, options.progress);
    report.expect(items.len());
    let chunk = options.chunk_for(items.len());
    let failures = Mutex::new(Vec::new());
    let mut out = Vec::new();
    let ran = thread_pool_for(options).install(|| {
        catch_unwind(AssertUnwindSafe(|| {
            items
                .into_par_iter()
                .with_min_len(options.chunksize.unwrap_or(1))
                .with_max_len(chunk)
                .enumerate()
                .map(|(index, item)| {
                    let name = base.with_index(index);
                    let _name = name::enter(name);
                    let started = report.start(name);
                    let outcome = catch_unwind(AssertUnwindSafe(|| f(item)));
                    report.end(started);
                    match outcome {
                        Ok(value) => value,
                        Err(payload) => {
                            let failure = Error::from_panic(name, &*payload);
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((index, failure));
                            // Unwind out of this chunk; rayon finishes the other
                            // chunks, then carries the unwind to us.
                            std::panic::resume_unwind(Box::new(ItemFailed))
                        }
                    }
                })
                .collect_into_vec(&mut out);
        }))
    });
    report.finish("pool_map!");
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(index, _)| *index);
    match ran {
        Ok(()) if failures.is_empty() => out,
        Err(payload) if failures.is_empty() => std::panic::resume_unwind(payload),
        _ => crate::outcome::raise(failures.into_iter().map(|(_, failure)| Some(failure))),
    }
}

/// Maps `f`, whose outputs are `Result<T, E>`, over `items` for the `try`
/// option: once item `k` returns `Err`, no item after `k` starts (their outcome
/// is a cancelled error), while every item before `k` still runs, so the
/// lowest-index error is found whatever the scheduling.
///
/// ```
/// use fanout::__private::{WorkerName, outcome, pool};
///
/// let parsed = pool::try_map(&pool::PoolOptions::new(), WorkerName::new("parse"), ["1", "x", "3"], |s| s.parse::<i32>());
/// assert!(outcome::try_all(parsed).is_err());
/// ```
pub fn try_map<I, F, T, E>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<Result<T, E>, Error>>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> Result<T, E> + Sync,
    T: Send,
    E: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let first_failure = AtomicUsize::new(usize::MAX);
    let indexed = items.into_iter().enumerate();
    map(options, base, indexed, |(index, item)| {
        if index > first_failure.load(Ordering::Relaxed) {
            return Err(Skipped);
        }
        let output = f(item);
        if output.is_err() {
            first_failure.fetch_min(index, Ordering::Relaxed);
        }
        Ok(output)
    })
    .into_iter()
    .enumerate()
    .map(|(index, outcome)| match outcome {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(Skipped)) => Err(Error::new(
            base.with_index(index),
            crate::ErrorKind::Cancelled,
        )),
        Err(failure) => Err(failure),
    })
    .collect()
}

/// An item not started because an earlier one failed.
struct Skipped;

/// Marker payload for an item whose panic was already recorded.
struct ItemFailed;

fn thread_pool_for(options: &PoolOptions) -> &'static rayon::ThreadPool {
    thread_pool(options.worker_count())
}
