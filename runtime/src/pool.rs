//! A pool of worker threads that maps a function over items: what
//! `pool_map!(f, items)` expands to (Python's `ThreadPoolExecutor.map`).

use std::cell::Cell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock};

use rayon::iter::plumbing::{Producer, ProducerCallback};
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
    map_indexed(options, base, items.into_par_iter(), &f)
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
    map_unwrap_indexed(options, base, items.into_par_iter(), &f)
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
    let items: Vec<I::Item> = items.into_iter().collect();
    try_map_indexed(options, base, items.into_par_iter(), &f)
}

/// Items that the pool splits by index where they are, without first
/// collecting them into a `Vec`: integer ranges, vectors, slices and arrays
/// (what rayon's `IndexedParallelIterator` covers). `pool_map!` picks this
/// path by itself when the items allow it (see [`Items`]); its outputs are the
/// same as with any other iterator.
pub trait IndexedItems: IntoIterator<Item: Send> {
    /// The items as a parallel iterator that rayon splits by index.
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = Self::Item>;
}

/// Ranges of every integer type, driven as `0..len` plus an offset (rayon
/// itself indexes ranges of integers no wider than `usize` only).
macro_rules! range_items {
    ($($int:ty => $unsigned:ty),* $(,)?) => {$(
        impl IndexedItems for std::ops::Range<$int> {
            fn into_indexed(self) -> impl IndexedParallelIterator<Item = $int> {
                let start = self.start;
                let len = if self.end > start {
                    self.end.wrapping_sub(start) as $unsigned
                } else {
                    0
                };
                offsets(start, len, |start: $int, k| start.wrapping_add(k as $int))
            }
        }

        impl IndexedItems for std::ops::RangeInclusive<$int> {
            fn into_indexed(self) -> impl IndexedParallelIterator<Item = $int> {
                let (start, end) = (*self.start(), *self.end());
                let len = if self.is_empty() {
                    0
                } else {
                    let span = end.wrapping_sub(start) as $unsigned;
                    span.checked_add(1).unwrap_or_else(|| too_many_items())
                };
                offsets(start, len, |start: $int, k| start.wrapping_add(k as $int))
            }
        }
    )*};
}

range_items! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize,
}

/// `start + k` for `k` in `0..len`, split by index.
fn offsets<N, L, A>(start: N, len: L, at: A) -> impl IndexedParallelIterator<Item = N>
where
    N: Copy + Send + Sync,
    usize: TryFrom<L>,
    A: Fn(N, usize) -> N + Send + Sync,
{
    let len = usize::try_from(len).unwrap_or_else(|_| too_many_items());
    (0..len).into_par_iter().map(move |k| at(start, k))
}

fn too_many_items() -> ! {
    panic!("fanout: pool_map! cannot map a range of more than usize::MAX items")
}

impl<T: Send> IndexedItems for Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = T> {
        self.into_par_iter()
    }
}

impl<'a, T: Sync> IndexedItems for &'a Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

impl<'a, T: Send> IndexedItems for &'a mut Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a mut T> {
        self.par_iter_mut()
    }
}

impl<'a, T: Sync> IndexedItems for &'a [T] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

impl<'a, T: Send> IndexedItems for &'a mut [T] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a mut T> {
        self.par_iter_mut()
    }
}

impl<T: Send, const N: usize> IndexedItems for [T; N] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = T> {
        self.into_par_iter()
    }
}

impl<'a, T: Sync, const N: usize> IndexedItems for &'a [T; N] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

/// The items of a `pool_map!`, before the macro picks how to split them: by
/// index where they are ([`IndexedItems`]), or collected into a `Vec` first
/// (any other `IntoIterator`). The choice is made at compile time by method
/// resolution (autoref specialization), so what the macro accepts is exactly
/// what [`map_unwrap`] accepts:
///
/// ```
/// use fanout::__private::{WorkerName, pool::{self, Items, SelectIndexed as _, SelectSequential as _}};
///
/// let options = pool::PoolOptions::new().workers(2);
/// let squares = (&&Items::new(0..4u64)).pool_select().map_unwrap(&options, WorkerName::new("square"), |x| x * x);
/// let evens = (&&Items::new((0..8).filter(|x| x % 2 == 0))).pool_select().map_unwrap(&options, WorkerName::new("half"), |x| x / 2);
/// assert_eq!((squares, evens), (vec![0, 1, 4, 9], vec![0, 1, 2, 3]));
/// ```
pub struct Items<I>(Cell<Option<I>>);

impl<I> Items<I> {
    /// Wraps the items of a `pool_map!`.
    pub fn new(items: I) -> Self {
        Items(Cell::new(Some(items)))
    }

    pub(crate) fn take(&self) -> I {
        self.0
            .take()
            .unwrap_or_else(|| unreachable!("pool_map! items are taken once"))
    }
}

/// Picks [`Indexed`] for items that the pool can split by index.
pub trait SelectIndexed {
    /// The items as [`Indexed`].
    type Selected;
    /// Takes the items out of the wrapper.
    fn pool_select(self) -> Self::Selected;
}

impl<I: IndexedItems> SelectIndexed for &&Items<I> {
    type Selected = Indexed<I>;
    fn pool_select(self) -> Indexed<I> {
        Indexed(self.take())
    }
}

/// Picks [`Sequential`] for every other `IntoIterator`.
pub trait SelectSequential {
    /// The items as [`Sequential`].
    type Selected;
    /// Takes the items out of the wrapper.
    fn pool_select(self) -> Self::Selected;
}

impl<I> SelectSequential for &Items<I> {
    type Selected = Sequential<I>;
    fn pool_select(self) -> Sequential<I> {
        Sequential(self.take())
    }
}

/// Items split by index where they are; see [`Items`].
pub struct Indexed<I>(I);

impl<I: IndexedItems> Indexed<I> {
    /// [`map`] without collecting the items first.
    pub fn map<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<Result<T, Error>>
    where
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        map_indexed(options, base, self.0.into_indexed(), &f)
    }

    /// [`map_unwrap`] without collecting the items first.
    #[track_caller]
    pub fn map_unwrap<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<T>
    where
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        map_unwrap_indexed(options, base, self.0.into_indexed(), &f)
    }

    /// [`try_map`] without collecting the items first.
    pub fn try_map<F, T, E>(
        self,
        options: &PoolOptions,
        base: WorkerName,
        f: F,
    ) -> Vec<Result<Result<T, E>, Error>>
    where
        F: Fn(I::Item) -> Result<T, E> + Sync,
        T: Send,
        E: Send,
    {
        try_map_indexed(options, base, self.0.into_indexed(), &f)
    }
}

/// Items of any other iterator, collected into a `Vec` first; see [`Items`].
pub struct Sequential<I>(I);

// The bounds are on each method, not on the impl: a non-iterable `items`
// then fails with "`X` is not an iterator" at the items.
impl<I> Sequential<I> {
    /// [`map`].
    pub fn map<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<Result<T, Error>>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        map(options, base, self.0, f)
    }

    /// [`map_unwrap`].
    #[track_caller]
    pub fn map_unwrap<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<T>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        map_unwrap(options, base, self.0, f)
    }

    /// [`try_map`].
    pub fn try_map<F, T, E>(
        self,
        options: &PoolOptions,
        base: WorkerName,
        f: F,
    ) -> Vec<Result<Result<T, E>, Error>>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> Result<T, E> + Sync,
        T: Send,
        E: Send,
    {
        try_map(options, base, self.0, f)
    }
}

/// Runs one item as its worker, for a pool with a progress bar or a
/// timeline: the name is current and the report sees the item.
fn run_reported<T>(
    report: &Report,
    name: WorkerName,
    item: impl FnOnce() -> T,
) -> std::thread::Result<T> {
    let _name = name::enter(name);
    let started = report.start(name);
    let outcome = catch_unwind(AssertUnwindSafe(item));
    report.end(started);
    outcome
}

/// One way of running a chunk of consecutive items on a worker thread.
trait Chunk<I, T>: Sync {
    /// Runs `items` (the first is item `first` of the map) in order, writing
    /// the output of each to its slot of `out`. Returns whether every slot was
    /// written; when it returns `false`, no slot is left initialized.
    fn run(&self, first: usize, items: impl Iterator<Item = I>, out: &mut [MaybeUninit<T>])
    -> bool;
}

/// Maps with `chunk` over `items`, [`PoolOptions::chunk_for`] consecutive
/// items per rayon job, writing the outputs straight into the returned vector
/// (no per-item allocation, and the items are never collected). `None` if a
/// chunk failed.
fn map_chunks<P, T, C>(options: &PoolOptions, items: P, chunk: &C) -> Option<Vec<T>>
where
    P: IndexedParallelIterator,
    T: Send,
    C: Chunk<P::Item, T>,
{
    let len = items.len();
    let mut out: Vec<T> = Vec::with_capacity(len);
    let chunk_len = options.chunk_for(len);
    let slots = &mut out.spare_capacity_mut()[..len];
    let filled = thread_pool_for(options).install(|| {
        items.with_producer(SplitIntoChunks {
            slots,
            chunk_len,
            chunk,
        })
    })?;
    assert_eq!(filled.len, len, "fanout: a pool chunk lost outputs");
    std::mem::forget(filled);
    // SAFETY: every one of the `len` slots was written (`filled` covers them all).
    unsafe { out.set_len(len) };
    Some(out)
}

/// The rayon callback that receives the items' producer.
struct SplitIntoChunks<'a, T, C> {
    slots: &'a mut [MaybeUninit<T>],
    chunk_len: usize,
    chunk: &'a C,
}

impl<I, T, C> ProducerCallback<I> for SplitIntoChunks<'_, T, C>
where
    T: Send,
    C: Chunk<I, T>,
{
    type Output = Option<Filled<T>>;

    fn callback<P: Producer<Item = I>>(self, producer: P) -> Option<Filled<T>> {
        split(producer, 0, self.slots, self.chunk_len, self.chunk)
    }
}

/// Halves `producer` (at a multiple of `chunk_len`) until one chunk is left,
/// running the halves with `rayon::join`, then runs the chunk.
fn split<P, T, C>(
    producer: P,
    first: usize,
    slots: &mut [MaybeUninit<T>],
    chunk_len: usize,
    chunk: &C,
) -> Option<Filled<T>>
where
    P: Producer,
    T: Send,
    C: Chunk<P::Item, T>,
{
    let len = slots.len();
    if len <= chunk_len {
        let start = slots.as_mut_ptr().cast::<T>();
        return chunk
            .run(first, producer.into_iter(), slots)
            .then_some(Filled { start, len });
    }
    let chunks = len.div_ceil(chunk_len);
    let mid = chunks / 2 * chunk_len;
    let (left, right) = producer.split_at(mid);
    let (left_slots, right_slots) = slots.split_at_mut(mid);
    let (left, right) = rayon::join(
        || split(left, first, left_slots, chunk_len, chunk),
        || split(right, first + mid, right_slots, chunk_len, chunk),
    );
    // A failed half drops the outputs of the other (`Filled::drop`).
    Some(left?.merge(right?))
}

/// Consecutive written outputs, dropped unless handed over (as rayon's
/// `collect` does).
struct Filled<T> {
    start: *mut T,
    len: usize,
}

// SAFETY: a `Filled<T>` owns its `T`s, which may be sent.
unsafe impl<T: Send> Send for Filled<T> {}

impl<T> Filled<T> {
    fn merge(self, right: Filled<T>) -> Filled<T> {
        // SAFETY: pointer arithmetic inside the output vector's allocation.
        assert_eq!(unsafe { self.start.add(self.len) }, right.start);
        let merged = Filled {
            start: self.start,
            len: self.len + right.len,
        };
        std::mem::forget(self);
        std::mem::forget(right);
        merged
    }
}

impl<T> Drop for Filled<T> {
    fn drop(&mut self) {
        // SAFETY: these `len` slots were written and are owned by `self`.
        unsafe { std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(self.start, self.len)) }
    }
}

/// The index of the item that was running on this thread when it panicked:
/// each item makes its name current before it starts.
fn panicked_item(first: usize) -> usize {
    name::current_worker()
        .and_then(|name| name.index())
        .unwrap_or(first)
}

/// `pool_map!(f, items)`: stops a chunk at its first panic, recording it.
struct Unwrap<'a, F> {
    base: WorkerName,
    f: &'a F,
    report: &'a Report,
    failures: Mutex<Vec<(usize, Error)>>,
}

impl<I, T, F> Chunk<I, T> for Unwrap<'_, F>
where
    F: Fn(I) -> T + Sync,
{
    fn run(
        &self,
        first: usize,
        items: impl Iterator<Item = I>,
        out: &mut [MaybeUninit<T>],
    ) -> bool {
        let base = self.base;
        let _name = name::enter(base.with_index(first));
        let ran = if self.report.is_quiet() {
            // The hot loop: one name update and one write per item.
            catch_unwind(AssertUnwindSafe(|| {
                for ((slot, item), index) in out.iter_mut().zip(items).zip(first..) {
                    name::set_current_index(index);
                    slot.write((self.f)(item));
                }
            }))
        } else {
            catch_unwind(AssertUnwindSafe(|| {
                for ((slot, item), index) in out.iter_mut().zip(items).zip(first..) {
                    let outcome =
                        run_reported(self.report, base.with_index(index), || (self.f)(item));
                    match outcome {
                        Ok(output) => slot.write(output),
                        Err(payload) => {
                            name::set_current_index(index);
                            std::panic::resume_unwind(payload)
                        }
                    };
                }
            }))
        };
        match ran {
            Ok(()) => true,
            Err(payload) => {
                let index = panicked_item(first);
                let failure = Error::from_panic(base.with_index(index), &*payload);
                self.failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((index, failure));
                let written = &mut out[..index - first];
                // SAFETY: the items before the one that panicked wrote their slots.
                unsafe { std::ptr::drop_in_place(written as *mut [MaybeUninit<T>] as *mut [T]) };
                false
            }
        }
    }
}

/// `pool_map!(f, items; catch)`: every item runs; a panic is its item's outcome.
struct Catch<'a, F> {
    base: WorkerName,
    f: &'a F,
    report: &'a Report,
}

impl<I, T, F> Chunk<I, Result<T, Error>> for Catch<'_, F>
where
    F: Fn(I) -> T + Sync,
{
    fn run(
        &self,
        first: usize,
        items: impl Iterator<Item = I>,
        out: &mut [MaybeUninit<Result<T, Error>>],
    ) -> bool {
        let base = self.base;
        let _name = name::enter(base.with_index(first));
        let mut items = items;
        if !self.report.is_quiet() {
            for ((slot, item), index) in out.iter_mut().zip(items).zip(first..) {
                let name = base.with_index(index);
                let outcome = run_reported(self.report, name, || (self.f)(item));
                slot.write(outcome.map_err(|payload| Error::from_panic(name, &*payload)));
            }
            return true;
        }
        // One catch for a run of items; after a panic the run goes on with
        // the next item (the items iterator has moved past the one that panicked).
        let mut next = 0;
        loop {
            let ran = catch_unwind(AssertUnwindSafe(|| {
                let run = out[next..].iter_mut().zip(&mut items).zip(first + next..);
                for ((slot, item), index) in run {
                    name::set_current_index(index);
                    slot.write(Ok((self.f)(item)));
                }
            }));
            match ran {
                Ok(()) => return true,
                Err(payload) => {
                    let index = panicked_item(first);
                    let failure = Error::from_panic(base.with_index(index), &*payload);
                    out[index - first].write(Err(failure));
                    next = index - first + 1;
                }
            }
        }
    }
}

fn map_indexed<P, F, T>(
    options: &PoolOptions,
    base: WorkerName,
    items: P,
    f: &F,
) -> Vec<Result<T, Error>>
where
    P: IndexedParallelIterator,
    F: Fn(P::Item) -> T + Sync,
    T: Send,
{
    let report = Report::new(options.timeline, options.progress);
    report.expect(items.len());
    let catch = Catch {
        base,
        f,
        report: &report,
    };
    let out = map_chunks(options, items, &catch);
    report.finish("pool_map!");
    out.unwrap_or_else(|| unreachable!("fanout: a caught pool chunk cannot fail"))
}

#[track_caller]
fn map_unwrap_indexed<P, F, T>(options: &PoolOptions, base: WorkerName, items: P, f: &F) -> Vec<T>
where
    P: IndexedParallelIterator,
    F: Fn(P::Item) -> T + Sync,
    T: Send,
{
    let report = Report::new(options.timeline, options.progress);
    report.expect(items.len());
    let unwrap = Unwrap {
        base,
        f,
        report: &report,
        failures: Mutex::new(Vec::new()),
    };
    let out = map_chunks(options, items, &unwrap);
    report.finish("pool_map!");
    match out {
        Some(out) => out,
        None => {
            let mut failures = unwrap
                .failures
                .into_inner()
                .unwrap_or_else(|e| e.into_inner());
            failures.sort_by_key(|(index, _)| *index);
            crate::outcome::raise(failures.into_iter().map(|(_, failure)| Some(failure)))
        }
    }
}

fn try_map_indexed<P, F, T, E>(
    options: &PoolOptions,
    base: WorkerName,
    items: P,
    f: &F,
) -> Vec<Result<Result<T, E>, Error>>
where
    P: IndexedParallelIterator,
    F: Fn(P::Item) -> Result<T, E> + Sync,
    T: Send,
    E: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let first_failure = AtomicUsize::new(usize::MAX);
    map_indexed(options, base, items.enumerate(), &|(index, item)| {
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

fn thread_pool_for(options: &PoolOptions) -> &'static rayon::ThreadPool {
    thread_pool(options.worker_count())
}
