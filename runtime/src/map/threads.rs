//! The thread executor: the items of a map on a pool of threads (what
//! `pool_map!(f, items)` runs on; Python's `ThreadPoolExecutor.map`).
//!
//! One pool per process, shared by every map: it has as many threads as the
//! largest `workers` a map asked for so far (and never fewer than the
//! machine's parallelism), and a map runs on `min(workers, chunks)` of them.
//! A map that asks for more workers than the pool has replaces it with a
//! larger one; the threads of the old pool exit once its last map ended. So
//! whatever sequence of `workers` values a program uses, the threads that
//! persist between maps are those of one pool, parked. A forked child that
//! maps on threads builds its own pool (the parent's threads do not exist in
//! the child). Its threads start as `fanout-pool-k` and go by the name of the
//! map they work for (see `thread_name`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::iter::IndexedParallelIterator;
use rayon::iter::plumbing::{Producer, ProducerCallback};

use super::mode::Mode;
use super::plan::{Plan, Stop};
use super::sink::{ChunkSink, Collect};
use super::task::{Plain, WithInit, WorkerTask};
use super::{MapOptions, default_workers};
use crate::error::{Error, ErrorKind};
use crate::name::{self, WorkerName};
use crate::report::Report;
use crate::thread_name;

/// Maps `f` over `items` on a pool of threads; the outputs come back in input
/// order, shaped by `mode` ([`Unwrap`](super::Unwrap): a `Vec<T>`;
/// [`Catch`](super::Catch): a `Vec<Result<T, fanout::Error>>`;
/// [`Try`](super::Try): a `Result<Vec<T>, E>`). Item `k` runs as the worker
/// `name-k`.
///
/// The items are collected into a `Vec` first; ranges, vectors, slices and
/// arrays can be split where they are with [`Items`](super::Items), as
/// `pool_map!` does.
///
/// ```
/// use fanout::map::{self, Catch, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2);
/// let squares = map::on_threads(&options, Unwrap, WorkerName::new("square"), 0..4, |x: u64| x * x);
/// assert_eq!(squares, [0, 1, 4, 9]);
///
/// let checked = map::on_threads(&options, Catch, WorkerName::new("check"), 0..3, |x: u32| {
///     assert!(x != 1, "one is not allowed");
///     x
/// });
/// assert_eq!(checked[1].as_ref().unwrap_err().to_string(), "worker `check-1` panicked: one is not allowed");
/// ```
///
/// # Panics
/// With [`Unwrap`](super::Unwrap) and [`Try`](super::Try), if an item
/// failed: once the running items ended, with the failure of the lowest index.
#[track_caller]
pub fn on_threads<M, I, F, U>(
    options: &MapOptions,
    mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> M::Output
where
    M: Mode<U>,
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> U + Sync,
    U: Send,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    on_threads_indexed(
        options,
        mode,
        name,
        rayon::iter::IntoParallelIterator::into_par_iter(items),
        &Plain(&f),
    )
}

/// [`on_threads`] with a state built once per worker by `init`
/// (`pool_map!(f, items; init = || state)`, Python's `initializer=`): `f`
/// takes `(&mut state, item)`. An `init` that panics fails every item of its
/// worker with an [`ErrorKind::Init`] error.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use fanout::map::{self, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// static BUILT: AtomicUsize = AtomicUsize::new(0);
/// let options = MapOptions::new().workers(2);
/// let init = || { BUILT.fetch_add(1, Ordering::Relaxed); 10 };
/// let sums = map::on_threads_with_init(&options, Unwrap, WorkerName::new("add"), 0..8, init, |ten: &mut u32, x: u32| *ten + x);
/// assert_eq!(sums, [10, 11, 12, 13, 14, 15, 16, 17]);
/// assert!(BUILT.load(Ordering::Relaxed) <= 2);
/// ```
///
/// # Panics
/// As [`on_threads`].
#[track_caller]
pub fn on_threads_with_init<M, I, G, S, F, U>(
    options: &MapOptions,
    mode: M,
    name: WorkerName,
    items: I,
    init: G,
    f: F,
) -> M::Output
where
    M: Mode<U>,
    I: IntoIterator,
    I::Item: Send,
    G: Fn() -> S + Sync,
    F: Fn(&mut S, I::Item) -> U + Sync,
    U: Send,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    on_threads_indexed(
        options,
        mode,
        name,
        rayon::iter::IntoParallelIterator::into_par_iter(items),
        &WithInit { init, f },
    )
}

/// [`on_threads`] of items that rayon splits by index where they are.
#[track_caller]
pub(crate) fn on_threads_indexed<M, P, W, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: P,
    f: &W,
) -> M::Output
where
    M: Mode<U>,
    P: IndexedParallelIterator,
    W: WorkerTask<P::Item, Output = U> + Sync,
    U: Send,
{
    let len = items.len();
    let plan = Plan::new(options, name, len);
    let collect = Collect::<M, U>::new(len);
    if len > 0 {
        let report = Report::new(options.timeline_enabled(), options.progress_enabled());
        report.expect(len);
        items.with_producer(Start {
            plan: &plan,
            collect: &collect,
            report: &report,
            f,
        });
        report.finish("pool_map!");
    }
    collect.finish(&plan)
}

/// What the workers share: the plan, the sink, the function.
struct Start<'a, M: Mode<U>, U, F> {
    plan: &'a Plan,
    collect: &'a Collect<M, U>,
    report: &'a Report,
    f: &'a F,
}

impl<M, U, F, I> ProducerCallback<I> for Start<'_, M, U, F>
where
    M: Mode<U>,
    U: Send,
    F: WorkerTask<I, Output = U> + Sync,
{
    type Output = ();

    fn callback<P: Producer<Item = I>>(self, producer: P) {
        let source = Source {
            rest: Mutex::new((self.plan.len, Some(producer))),
        };
        let job = Job {
            plan: self.plan,
            collect: self.collect,
            report: self.report,
            f: self.f,
            source: &source,
        };
        let chunks = self.plan.len.div_ceil(self.plan.chunk);
        let workers = self.plan.workers.min(chunks);
        thread_name::install_panic_hook();
        match pool(workers) {
            Ok(pool) => pool.in_place_scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|_| job.work());
                }
            }),
            Err(why) => job.fail_all(&why),
        }
    }
}

/// The items not handed out yet, split off one chunk at a time.
struct Source<P> {
    /// How many items are left, and their producer.
    rest: Mutex<(usize, Option<P>)>,
}

impl<P: Producer> Source<P> {
    /// The next chunk and the run its outcomes go to.
    fn next<'c, M: Mode<U>, U>(
        &self,
        collect: &'c Collect<M, U>,
        chunk: usize,
    ) -> Option<(ChunkSink<'c, M, U>, P)> {
        let mut rest = self.rest.lock().unwrap_or_else(PoisonError::into_inner);
        let (left, producer) = &mut *rest;
        let producer_now = producer.take()?;
        let run = collect.claim(chunk)?;
        let taken = run.end() - run.index();
        if taken < *left {
            let (head, tail) = producer_now.split_at(taken);
            *producer = Some(tail);
            *left -= taken;
            Some((run, head))
        } else {
            *left = 0;
            Some((run, producer_now))
        }
    }
}

struct Job<'a, M: Mode<U>, U, F, P> {
    plan: &'a Plan,
    collect: &'a Collect<M, U>,
    report: &'a Report,
    f: &'a F,
    source: &'a Source<P>,
}

impl<M, U, F, P> Job<'_, M, U, F, P>
where
    M: Mode<U>,
    U: Send,
    P: Producer,
    F: WorkerTask<P::Item, Output = U> + Sync,
{
    /// One worker: builds its state, then takes chunks until none is left or
    /// the map stopped.
    fn work(&self) {
        // The pool thread goes by the map's name in the system (nothing is
        // done when it already does: see `thread_name`).
        thread_name::name_os_thread(&self.plan.base);
        let _name = name::enter(self.plan.base.clone());
        let mut state = self.f.try_start();
        while self.plan.may_start() {
            let Some((run, chunk)) = self.source.next(self.collect, self.plan.chunk) else {
                break;
            };
            match &mut state {
                Ok(state) => self.run_chunk(run, chunk.into_iter(), state),
                Err(why) => self.fail_chunk(run, why),
            }
        }
    }

    /// The worker's `init` panicked: every item of the chunk fails with why.
    fn fail_chunk(&self, mut run: ChunkSink<'_, M, U>, why: &str) {
        while !run.is_done() {
            let name = self.plan.base.with_index(run.index());
            if !self.report.is_quiet() {
                self.report.advance(1);
            }
            if run.put(Err(Error::new(name, ErrorKind::Init(why.to_owned())))) {
                self.plan.stop(Stop::Failed);
            }
        }
    }

    /// Runs the items of one chunk in order, each one's outcome going to its
    /// slot as it ends. The index of the running item lives in `run` (a
    /// local), so a panic is charged to the right item whatever the task did.
    fn run_chunk(&self, mut run: ChunkSink<'_, M, U>, items: P::IntoIter, state: &mut F::State) {
        let mut items = Some(items);
        let base = &self.plan.base;
        let quiet = self.report.is_quiet();
        while !run.is_done() {
            let ran = catch_unwind(AssertUnwindSafe(|| {
                if quiet {
                    self.run_quiet(&mut run, &mut items, state);
                    return;
                }
                let Some(items) = items.as_mut() else { return };
                while self.plan.may_start() {
                    let Some(item) = items.next() else { return };
                    let index = run.index();
                    name::set_current_index(index);
                    let started = self.report.start(base.with_index(index));
                    let output = self.f.call(state, item);
                    self.report.end(started);
                    if run.put(Ok(output)) {
                        self.plan.stop(Stop::Failed);
                    }
                }
            }));
            match ran {
                Ok(()) => break,
                Err(payload) => {
                    // Named after the item while its panic was reported.
                    thread_name::name_os_thread(base);
                    let failure = Error::from_panic(base.with_index(run.index()), &*payload);
                    drop(payload);
                    if !quiet {
                        self.report.advance(1);
                    }
                    if run.put(Err(failure)) {
                        self.plan.stop(Stop::Failed);
                    }
                }
            }
        }
    }

    /// The hot loop of cheap items, in a function of its own (so that its
    /// registers hold the loop's values, not the spills of a larger one):
    /// the run's position, the items and the deadline in locals, one store
    /// of the item's index per item.
    ///
    /// When a failure stops the map ([`Mode::FAILURE_STOPS`]), nothing of
    /// the chunk runs after a panic: the items are a local of the loop
    /// (dropped by the unwinding). Otherwise they are put back in `items`,
    /// for the items after the one that panicked.
    #[inline(never)]
    fn run_quiet(
        &self,
        run: &mut ChunkSink<'_, M, U>,
        items: &mut Option<P::IntoIter>,
        state: &mut F::State,
    ) {
        if M::FAILURE_STOPS {
            if let Some(mut items) = items.take() {
                self.run_quiet_from(run, || items.next(), state);
            }
        } else {
            let mut items = ItemsHere::new(items);
            self.run_quiet_from(run, || items.next(), state);
        }
    }

    #[inline(always)]
    fn run_quiet_from(
        &self,
        run: &mut ChunkSink<'_, M, U>,
        mut next_item: impl FnMut() -> Option<P::Item>,
        state: &mut F::State,
    ) {
        let starter = self.plan.starter();
        let mut ended = false;
        while !ended && !run.is_done() {
            let stops = run.put_while(|| {
                if !starter.may_start() {
                    ended = true;
                    return None;
                }
                let Some(item) = next_item() else {
                    ended = true;
                    return None;
                };
                name::index_from_writer();
                Some(self.f.call(state, item))
            });
            if stops {
                self.plan.stop(Stop::Failed);
            }
        }
    }

    /// No thread could be started: every item fails with why.
    fn fail_all(&self, why: &str) {
        while let Some((mut run, chunk)) = self.source.next(self.collect, usize::MAX) {
            drop(chunk);
            while !run.is_done() {
                let name = self.plan.base.with_index(run.index());
                run.put(Err(Error::new(name, ErrorKind::Spawn(why.to_owned()))));
            }
        }
    }
}

/// The process's pool, with at least `workers` threads if they can be
/// started (see the [module](self) docs); a pool with fewer threads if only
/// that exists; or why no thread could be started.
fn pool(workers: usize) -> Result<Arc<rayon::ThreadPool>, String> {
    struct Shared {
        pid: u32,
        threads: usize,
        pool: Arc<rayon::ThreadPool>,
    }
    static POOL: Mutex<Option<Shared>> = Mutex::new(None);
    let pid = std::process::id();
    let current = {
        // Held only for these few lines, never while a thread starts.
        let mut shared = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        match shared.take() {
            // A forked child: the parent's threads do not exist here, so the
            // pool cannot be used, nor dropped (that would wait on them).
            Some(parent) if parent.pid != pid => {
                std::mem::forget(parent);
                None
            }
            Some(ours) => {
                let found = (ours.threads >= workers).then(|| Arc::clone(&ours.pool));
                let existing = Some((ours.threads, Arc::clone(&ours.pool)));
                *shared = Some(ours);
                if let Some(pool) = found {
                    return Ok(pool);
                }
                existing
            }
            None => None,
        }
    };
    let threads = workers.max(default_workers());
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|k| format!("fanout-pool-{k}"))
        .build();
    match built {
        Ok(pool) => {
            let pool = Arc::new(pool);
            let mut shared = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            let replace = match &*shared {
                Some(now) => now.pid != pid || now.threads < threads,
                None => true,
            };
            if replace {
                // The old pool's threads exit once the maps using it end.
                *shared = Some(Shared {
                    pid,
                    threads,
                    pool: Arc::clone(&pool),
                });
            }
            Ok(pool)
        }
        Err(error) => match current {
            Some((_, smaller)) => Ok(smaller),
            None => Err(format!(
                "cannot start a thread pool of {threads} threads: {error}"
            )),
        },
    }
}

/// A chunk's items, moved out of their place for a hot loop (so that they
/// live in its registers, not behind a reference that the loop's calls
/// could change), and put back when it ends, by unwinding too: the items
/// after one that panicked still run.
struct ItemsHere<'a, I> {
    home: &'a mut Option<I>,
    items: Option<I>,
}

impl<'a, I: Iterator> ItemsHere<'a, I> {
    #[inline]
    fn new(home: &'a mut Option<I>) -> Self {
        let items = home.take();
        ItemsHere { home, items }
    }

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        self.items.as_mut()?.next()
    }
}

impl<I> Drop for ItemsHere<'_, I> {
    #[inline]
    fn drop(&mut self) {
        *self.home = self.items.take();
    }
}
