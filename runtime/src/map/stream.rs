//! Streaming maps on threads: `pool_map!(f, items; stream)` yields the
//! outputs in input order as they become available (Python's
//! `Executor.map(buffersize=)` / `Pool.imap`), `...; unordered)` yields
//! `(index, output)` in completion order (`as_completed` /
//! `imap_unordered`).
//!
//! The rules are the collecting form's (the same [`Plan`] and [`Mode`]), plus:
//!
//! - the items are pulled lazily, under a lock, as a worker takes its next
//!   chunk: at most `buffer` items (by default twice the workers) are taken
//!   and not yet yielded, so an endless iterator works in bounded memory;
//! - a chunk holds one item unless `chunksize` says more (never more than
//!   `buffer`);
//! - a stream ends as the collecting form returns: with `catch` every item
//!   is yielded as its own `Result<T, fanout::Error>`; with `try` the first
//!   `Err` met (the lowest index among the items that ran, once the running
//!   items ended) is yielded last and no new item starts after it; without
//!   either, a failed item makes the iterator panic when it would yield it,
//!   once the running items ended;
//! - dropping the stream early is cancellation: no new item starts, and the
//!   items running finish before the drop returns (the workers are joined).
//!
//! The workers are dedicated threads (named after the map, as a pool's threads
//! are while they run a map's items: see `thread_name`), one per worker,
//! started with the stream and joined when it ends or is dropped: a worker waiting for the
//! consumer to make room would otherwise hold a thread of the shared pool
//! that the collecting maps use, and a consumer running on that pool could
//! wait for workers queued behind it.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::MapOptions;
use super::mode::{Mode, Settled};
use super::plan::{Plan, Stop};
use super::task::{Plain, WithInit, WorkerTask};
use crate::error::{Error, ErrorKind};
use crate::name::{self, WorkerName};
use crate::report::Report;

#[cfg(all(unix, feature = "processes"))]
#[path = "stream_processes.rs"]
mod processes;

/// The iterator of `pool_map!(f, items; stream)`: the outputs in input
/// order, shaped by the mode (`T`, `Result<T, fanout::Error>` with `catch`,
/// `Result<T, E>` with `try`).
///
/// ```
/// use fanout::map::{self, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2).buffer(4);
/// let squares = map::stream_in_order(&options, Unwrap, WorkerName::new("square"), 0u64.., |x| x * x);
/// assert_eq!(squares.take(5).collect::<Vec<_>>(), [0, 1, 4, 9, 16]);
/// ```
///
/// # Panics
/// Without `catch`, when the next item to yield failed (its function
/// panicked): once the items still running ended.
#[must_use = "a stream starts no item unless iterated"]
pub struct StreamInOrder<M: Mode<U>, U> {
    inner: Stream<M, U>,
}

/// The iterator of `pool_map!(f, items; unordered)`: `(index, output)` in
/// completion order.
///
/// ```
/// use fanout::map::{self, Catch, MapOptions};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2);
/// let mut done: Vec<(usize, Result<u32, fanout::Error>)> =
///     map::stream_unordered(&options, Catch, WorkerName::new("check"), 0..4u32, |x| {
///         assert!(x != 2, "two is not allowed");
///         x
///     })
///     .collect();
/// done.sort_by_key(|(index, _)| *index);
/// assert_eq!(done[1].1.as_ref().ok(), Some(&1));
/// assert!(done[2].1.is_err());
/// ```
///
/// # Panics
/// As [`StreamInOrder`], when it would yield a failed item.
#[must_use = "a stream starts no item unless iterated"]
pub struct StreamUnordered<M: Mode<U>, U> {
    inner: Stream<M, U>,
}

/// Starts a stream of `f` over `items` on threads, in input order; see
/// [`StreamInOrder`].
#[track_caller]
pub fn stream_in_order<M, I, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> StreamInOrder<M, U>
where
    M: Mode<U>,
    I: IntoIterator,
    I::IntoIter: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    I::Item: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    F: Fn(I::Item) -> U + Send + Sync,
    F: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    U: Send + 'static,
{
    StreamInOrder {
        inner: Stream::start(options, name, true, items.into_iter(), Plain(f)),
    }
}

/// [`stream_in_order`] with a state built once per worker by `init`
/// (`pool_map!(f, items; stream, init = || state)`): `f` takes
/// `(&mut state, item)`.
#[track_caller]
pub fn stream_in_order_with_init<M, I, G, S, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    init: G,
    f: F,
) -> StreamInOrder<M, U>
where
    M: Mode<U>,
    I: IntoIterator,
    I::IntoIter: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    I::Item: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    G: Fn() -> S + Send + Sync,
    G: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    F: Fn(&mut S, I::Item) -> U + Send + Sync,
    F: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    U: Send + 'static,
{
    StreamInOrder {
        inner: Stream::start(options, name, true, items.into_iter(), WithInit { init, f }),
    }
}

/// Starts a stream of `f` over `items` on threads, in completion order; see
/// [`StreamUnordered`].
#[track_caller]
pub fn stream_unordered<M, I, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> StreamUnordered<M, U>
where
    M: Mode<U>,
    I: IntoIterator,
    I::IntoIter: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    I::Item: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    F: Fn(I::Item) -> U + Send + Sync,
    F: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    U: Send + 'static,
{
    StreamUnordered {
        inner: Stream::start(options, name, false, items.into_iter(), Plain(f)),
    }
}

/// [`stream_unordered`] with a state built once per worker by `init`.
#[track_caller]
pub fn stream_unordered_with_init<M, I, G, S, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    init: G,
    f: F,
) -> StreamUnordered<M, U>
where
    M: Mode<U>,
    I: IntoIterator,
    I::IntoIter: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    I::Item: Send + 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    G: Fn() -> S + Send + Sync,
    G: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    F: Fn(&mut S, I::Item) -> U + Send + Sync,
    F: 'static, // a stream outlives the line: move owned values or an `Arc` in, or drop `stream` and collect
    U: Send + 'static,
{
    StreamUnordered {
        inner: Stream::start(
            options,
            name,
            false,
            items.into_iter(),
            WithInit { init, f },
        ),
    }
}

/// Stand-ins for the entries of the streams on threads, without their
/// `'static` and `Send` bounds: `pool_map!(...; stream)` calls them when it
/// reported that the function, its `init` or the items borrow a local (a
/// compile error), so that the borrow checker does not report the same
/// mistake a second time in its own words. They type-check as the entries do
/// and are never run.
#[doc(hidden)]
pub mod refused {
    use super::{MapOptions, Mode, StreamInOrder, StreamUnordered, WorkerName};

    const REFUSED: &str =
        "fanout: a stream refused at compile time (it borrows a local) cannot run";

    pub fn stream_in_order<M, I, F, U>(
        _: &MapOptions,
        _: M,
        _: WorkerName,
        _: I,
        _: F,
    ) -> StreamInOrder<M, U>
    where
        M: Mode<U>,
        I: IntoIterator,
        F: Fn(I::Item) -> U,
    {
        unreachable!("{REFUSED}")
    }

    pub fn stream_unordered<M, I, F, U>(
        _: &MapOptions,
        _: M,
        _: WorkerName,
        _: I,
        _: F,
    ) -> StreamUnordered<M, U>
    where
        M: Mode<U>,
        I: IntoIterator,
        F: Fn(I::Item) -> U,
    {
        unreachable!("{REFUSED}")
    }

    pub fn stream_in_order_with_init<M, I, G, S, F, U>(
        _: &MapOptions,
        _: M,
        _: WorkerName,
        _: I,
        _: G,
        _: F,
    ) -> StreamInOrder<M, U>
    where
        M: Mode<U>,
        I: IntoIterator,
        G: Fn() -> S,
        F: Fn(&mut S, I::Item) -> U,
    {
        unreachable!("{REFUSED}")
    }

    pub fn stream_unordered_with_init<M, I, G, S, F, U>(
        _: &MapOptions,
        _: M,
        _: WorkerName,
        _: I,
        _: G,
        _: F,
    ) -> StreamUnordered<M, U>
    where
        M: Mode<U>,
        I: IntoIterator,
        G: Fn() -> S,
        F: Fn(&mut S, I::Item) -> U,
    {
        unreachable!("{REFUSED}")
    }
}

/// What the items of a stream in processes must be: serializable, as they
/// travel to the worker processes (the same codec as the outputs).
#[cfg(all(unix, feature = "processes"))]
#[diagnostic::on_unimplemented(
    message = "the items of `pool_map!(...; processes, stream)` are sent to the worker processes, so they must be serializable, but `{Self}` is not",
    label = "these items cannot be sent to a worker process",
    note = "derive them on the item type: `#[derive(serde::Serialize, serde::Deserialize)]`, or stream on threads (drop `processes`), which share the caller's memory"
)]
pub trait ProcessItem: serde::Serialize + serde::de::DeserializeOwned + 'static {}

#[cfg(all(unix, feature = "processes"))]
#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned + 'static> ProcessItem for T {}

/// Starts a stream of `f` over `items` in worker processes, in input
/// order (`pool_map!(f, items; processes, stream)`): the workers are forked
/// now, the items are pulled lazily and sent to them, so they must be
/// serializable, as the outputs; `f` needs nothing. A worker process that
/// dies fails the item it was running, alone, and is replaced (by a fork
/// server forked with the stream, which holds `f`): no item runs twice. With
/// [`MapOptions::recycle`], each worker exits after that many items and a
/// fresh one takes over. Dropping the stream kills and reaps them.
///
/// ```
/// use fanout::map::{self, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2);
/// let squares = map::stream_in_order_on_processes(&options, Unwrap, WorkerName::new("square"), 0u64.., |x| x * x);
/// assert_eq!(squares.take(4).collect::<Vec<_>>(), [0, 1, 4, 9]);
/// ```
#[cfg(all(unix, feature = "processes"))]
pub fn stream_in_order_on_processes<M, I, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> StreamInOrder<M, U>
where
    M: Mode<U>,
    I: IntoIterator<IntoIter: Send + 'static, Item: ProcessItem + Send>,
    F: Fn(I::Item) -> U,
    U: crate::process::ProcessOutput + Send,
{
    let shared = Shared::new(options, name, true);
    StreamInOrder {
        inner: Stream::start_processes(
            shared,
            items.into_iter(),
            &Plain(f),
            options.recycle_option(),
        ),
    }
}

/// [`stream_in_order_on_processes`] with a state built once per worker
/// process by `init`.
#[cfg(all(unix, feature = "processes"))]
pub fn stream_in_order_on_processes_with_init<M, I, G, S, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    init: G,
    f: F,
) -> StreamInOrder<M, U>
where
    M: Mode<U>,
    I: IntoIterator<IntoIter: Send + 'static, Item: ProcessItem + Send>,
    G: Fn() -> S,
    F: Fn(&mut S, I::Item) -> U,
    U: crate::process::ProcessOutput + Send,
{
    let shared = Shared::new(options, name, true);
    StreamInOrder {
        inner: Stream::start_processes(
            shared,
            items.into_iter(),
            &WithInit { init, f },
            options.recycle_option(),
        ),
    }
}

/// As [`stream_in_order_on_processes`], in completion order
/// (`pool_map!(f, items; processes, unordered)`).
#[cfg(all(unix, feature = "processes"))]
pub fn stream_unordered_on_processes<M, I, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> StreamUnordered<M, U>
where
    M: Mode<U>,
    I: IntoIterator<IntoIter: Send + 'static, Item: ProcessItem + Send>,
    F: Fn(I::Item) -> U,
    U: crate::process::ProcessOutput + Send,
{
    let shared = Shared::new(options, name, false);
    StreamUnordered {
        inner: Stream::start_processes(
            shared,
            items.into_iter(),
            &Plain(f),
            options.recycle_option(),
        ),
    }
}

/// [`stream_unordered_on_processes`] with a state built once per worker
/// process by `init`.
#[cfg(all(unix, feature = "processes"))]
pub fn stream_unordered_on_processes_with_init<M, I, G, S, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: I,
    init: G,
    f: F,
) -> StreamUnordered<M, U>
where
    M: Mode<U>,
    I: IntoIterator<IntoIter: Send + 'static, Item: ProcessItem + Send>,
    G: Fn() -> S,
    F: Fn(&mut S, I::Item) -> U,
    U: crate::process::ProcessOutput + Send,
{
    let shared = Shared::new(options, name, false);
    StreamUnordered {
        inner: Stream::start_processes(
            shared,
            items.into_iter(),
            &WithInit { init, f },
            options.recycle_option(),
        ),
    }
}

impl<M: Mode<U>, U> Iterator for StreamInOrder<M, U> {
    type Item = M::Yielded;

    #[track_caller]
    fn next(&mut self) -> Option<M::Yielded> {
        self.inner.next().map(|(_, item)| item)
    }
}

impl<M: Mode<U>, U> Iterator for StreamUnordered<M, U> {
    type Item = (usize, M::Yielded);

    #[track_caller]
    fn next(&mut self) -> Option<(usize, M::Yielded)> {
        self.inner.next()
    }
}

impl<M: Mode<U>, U> std::iter::FusedIterator for StreamInOrder<M, U> {}
impl<M: Mode<U>, U> std::iter::FusedIterator for StreamUnordered<M, U> {}

impl<M: Mode<U>, U> std::fmt::Debug for StreamInOrder<M, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInOrder").finish_non_exhaustive()
    }
}

impl<M: Mode<U>, U> std::fmt::Debug for StreamUnordered<M, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamUnordered").finish_non_exhaustive()
    }
}

/// The consumer's side of a stream, in either order.
struct Stream<M, U> {
    shared: Arc<Shared<U>>,
    workers: Vec<JoinHandle<()>>,
    /// Why no worker thread could be started, if none could.
    no_worker: Option<String>,
    ended: bool,
    _mode: PhantomData<fn() -> M>,
}

/// What the consumer and the workers share.
struct Shared<U> {
    plan: Plan,
    buffer: usize,
    ordered: bool,
    report: Report,
    state: Mutex<State<U>>,
    /// The consumer waits here for an outcome (or a worker's end).
    arrived: Condvar,
    /// The workers wait here for room (or the stream's end).
    room: Condvar,
    /// On processes: the pids of the worker processes not reaped yet.
    #[cfg_attr(not(all(unix, feature = "processes")), allow(dead_code))]
    children: Mutex<Vec<u32>>,
}

/// An item's index and outcome (`None`: it never started).
type Answer<U> = (usize, Option<Result<U, Error>>);

/// The place of an item taken in an in-order stream.
enum Slot<U> {
    /// Taken, not answered yet.
    Pending,
    /// Ran: its output or its failure.
    Done(Result<U, Error>),
    /// Taken, never started (the stream had stopped).
    Unstarted,
}

struct State<U> {
    /// How many items were taken from the iterator (the index of the next).
    taken: usize,
    /// How many were yielded (in order: the index of the next to yield).
    yielded: usize,
    /// The iterator ended.
    exhausted: bool,
    /// How many workers still run.
    running: usize,
    /// The consumer waits for an outcome (so a worker must wake it).
    consumer_waits: bool,
    /// How many workers wait for room (so a yield must wake them).
    workers_waiting: usize,
    /// In order: the items `yielded..taken`.
    held: VecDeque<Slot<U>>,
    /// In completion order: each item answered, and its outcome (`None`: it
    /// never started).
    answered: VecDeque<Answer<U>>,
}

impl<U> Shared<U> {
    fn lock(&self) -> MutexGuard<'_, State<U>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// No new item starts; the workers waiting for room are woken to see it.
    fn stop(&self) {
        let state = self.lock();
        self.plan.stop(Stop::Failed);
        drop(state);
        self.room.notify_all();
    }

    /// The outcome of item `index` (`None`: it never started).
    #[cfg_attr(not(all(unix, feature = "processes")), allow(dead_code))]
    fn put(&self, index: usize, outcome: Option<Result<U, Error>>) {
        self.put_all(std::iter::once((index, outcome)));
    }

    /// The outcomes of several items, under one lock.
    fn put_all(&self, outcomes: impl IntoIterator<Item = Answer<U>>) {
        let mut state = self.lock();
        for (index, outcome) in outcomes {
            if self.ordered {
                let at = index - state.yielded;
                state.held[at] = match outcome {
                    Some(outcome) => Slot::Done(outcome),
                    None => Slot::Unstarted,
                };
            } else {
                state.answered.push_back((index, outcome));
            }
        }
        let waiting = state.consumer_waits;
        drop(state);
        if waiting {
            self.arrived.notify_one();
        }
    }

    /// The next chunk for a worker, pulled from `items` once there is room:
    /// the index of its first item and the items; `None` once the stream
    /// stopped or the items ended.
    fn take<M, I>(&self, items: &Mutex<I>) -> Option<(usize, Vec<I::Item>)>
    where
        M: Mode<U>,
        I: Iterator,
    {
        // The items' lock is held from the reservation to the give-back, so
        // that the indices stay those of the iterator's order.
        let mut items = items.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.lock();
        let count = loop {
            if state.exhausted || !self.plan.may_start() {
                return None;
            }
            let ahead = state.taken - state.yielded;
            if ahead < self.buffer {
                break (self.buffer - ahead).min(self.plan.chunk);
            }
            state.workers_waiting += 1;
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.workers_waiting -= 1;
        };
        let first = state.taken;
        state.taken += count;
        if self.ordered {
            state.held.extend((0..count).map(|_| Slot::Pending));
        }
        drop(state);
        let mut chunk = Vec::with_capacity(count);
        let mut failure = None;
        while chunk.len() < count {
            match catch_unwind(AssertUnwindSafe(|| items.next())) {
                Ok(Some(item)) => chunk.push(item),
                Ok(None) => break,
                Err(payload) => {
                    let name = self.plan.base.with_index(first + chunk.len());
                    failure = Some(Error::from_panic(name, &*payload));
                    break;
                }
            }
        }
        if chunk.len() < count {
            let mut state = self.lock();
            state.exhausted = true;
            let mut end = first + chunk.len();
            if let Some(failure) = failure {
                // The item the iterator panicked on fails with its panic.
                let outcome = Err(failure);
                if M::stops_on(&outcome) {
                    self.plan.stop(Stop::Failed);
                }
                if self.ordered {
                    let at = end - state.yielded;
                    state.held[at] = Slot::Done(outcome);
                } else {
                    state.answered.push_back((end, Some(outcome)));
                }
                end += 1;
            }
            // Give back the indices reserved and not taken.
            state.taken = end;
            let keep = end - state.yielded;
            state.held.truncate(keep);
            let waiting = state.consumer_waits;
            drop(state);
            if waiting {
                self.arrived.notify_one();
            }
        }
        drop(items);
        if chunk.is_empty() {
            return None;
        }
        Some((first, chunk))
    }
}

impl<U> Shared<U> {
    /// What the workers of a stream with `options` share.
    fn new(options: &MapOptions, name: WorkerName, ordered: bool) -> Arc<Self> {
        let buffer = options.buffer_for_stream();
        let chunk = options.chunksize_option().unwrap_or(1).min(buffer);
        let plan = Plan::unbounded(options, name, chunk);
        let workers = plan.workers;
        let report = Report::new(options.timeline_enabled(), options.progress_enabled());
        report.expect_unknown();
        Arc::new(Shared {
            plan,
            buffer,
            ordered,
            report,
            state: Mutex::new(State {
                taken: 0,
                yielded: 0,
                exhausted: false,
                running: workers,
                consumer_waits: false,
                workers_waiting: 0,
                held: VecDeque::new(),
                answered: VecDeque::new(),
            }),
            arrived: Condvar::new(),
            room: Condvar::new(),
            children: Mutex::new(Vec::new()),
        })
    }
}

impl<M: Mode<U>, U: Send + 'static> Stream<M, U> {
    fn start<I, W>(options: &MapOptions, name: WorkerName, ordered: bool, items: I, task: W) -> Self
    where
        I: Iterator + Send + 'static,
        I::Item: Send + 'static,
        W: WorkerTask<I::Item, Output = U> + Send + Sync + 'static,
    {
        crate::thread_name::install_panic_hook();
        let shared = Shared::new(options, name.clone(), ordered);
        let workers = shared.plan.workers;
        let items = Arc::new(Mutex::new(items));
        let task = Arc::new(task);
        let mut handles = Vec::with_capacity(workers);
        let mut no_worker = None;
        for _ in 0..workers {
            let worker = {
                let (shared, items, task) =
                    (Arc::clone(&shared), Arc::clone(&items), Arc::clone(&task));
                move || work::<M, I, W>(&shared, &items, &*task)
            };
            // Named after the map, as the threads of a pool are while they
            // run its items (see `thread_name`).
            match std::thread::Builder::new()
                .name(name.base().to_owned())
                .spawn(worker)
            {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    // This worker never runs: the others take its share.
                    shared.lock().running -= 1;
                    no_worker = Some(format!("cannot start a thread: {error}"));
                }
            }
        }
        Stream {
            shared,
            no_worker: if handles.is_empty() { no_worker } else { None },
            workers: handles,
            ended: false,
            _mode: PhantomData,
        }
    }
}

impl<M: Mode<U>, U> Stream<M, U> {
    #[track_caller]
    fn next(&mut self) -> Option<(usize, M::Yielded)> {
        if self.ended {
            return None;
        }
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        loop {
            let next = if shared.ordered {
                match state.held.front() {
                    Some(Slot::Pending) | None => None,
                    Some(_) => {
                        let index = state.yielded;
                        match state.held.pop_front() {
                            Some(Slot::Done(outcome)) => Some((index, Some(outcome))),
                            _ => Some((index, None)),
                        }
                    }
                }
            } else {
                state.answered.pop_front()
            };
            if let Some((index, outcome)) = next {
                state.yielded += 1;
                let waiting = state.workers_waiting > 0;
                drop(state);
                if waiting {
                    shared.room.notify_all();
                }
                let settled = match outcome {
                    Some(outcome) => M::settle(outcome),
                    None => M::missing(shared.plan.unstarted(index)),
                };
                return Some(match settled {
                    Settled::Kept(kept) => (index, M::yielded(kept)),
                    Settled::Aside(aside) => {
                        drop(shared);
                        self.last(index, aside)
                    }
                });
            }
            let drained = state.taken == state.yielded;
            if state.running == 0
                || (drained && (state.exhausted || shared.plan.stopped().is_some()))
            {
                let index = state.yielded;
                drop(state);
                drop(shared);
                self.end();
                // No worker could be started: the first item fails with why.
                let why = self.no_worker.take()?;
                let name = self.shared.plan.base.with_index(index);
                let failure = Error::new(name, ErrorKind::Spawn(why));
                return match M::settle(Err(failure)) {
                    Settled::Kept(kept) => Some((index, M::yielded(kept))),
                    Settled::Aside(aside) => Some(M::last(vec![(index, aside)])),
                };
            }
            state.consumer_waits = true;
            state = shared
                .arrived
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.consumer_waits = false;
        }
    }

    /// An item was kept aside, which ends the stream: once the running items
    /// ended, the mode decides from every aside not yielded (the same rule
    /// as the collecting form), and may panic.
    #[track_caller]
    fn last(&mut self, index: usize, aside: M::Aside) -> (usize, M::Yielded) {
        let shared = Arc::clone(&self.shared);
        shared.stop();
        let mut state = shared.lock();
        while state.running > 0 {
            state = shared
                .arrived
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let mut asides = vec![(index, aside)];
        let mut keep = |k: usize, outcome: Option<Result<U, Error>>| {
            let settled = match outcome {
                Some(outcome) => M::settle(outcome),
                None => M::missing(shared.plan.unstarted(k)),
            };
            if let Settled::Aside(aside) = settled {
                asides.push((k, aside));
            }
        };
        let first = state.yielded;
        for (offset, slot) in std::mem::take(&mut state.held).into_iter().enumerate() {
            match slot {
                Slot::Done(outcome) => keep(first + offset, Some(outcome)),
                Slot::Pending | Slot::Unstarted => keep(first + offset, None),
            }
        }
        for (k, outcome) in std::mem::take(&mut state.answered) {
            keep(k, outcome);
        }
        drop(state);
        self.end();
        asides.sort_by_key(|(k, _)| *k);
        M::last(asides)
    }

    /// The stream is over: no new item starts, the workers are joined.
    fn end(&mut self) {
        self.ended = true;
        self.shared.stop();
        for worker in self.workers.drain(..) {
            // A worker catches its items' panics; nothing else unwinds.
            let _ = worker.join();
        }
        self.shared.report.finish("pool_map!(...; stream)");
    }
}

impl<M, U> Drop for Stream<M, U> {
    /// Cancellation: no new item starts; the running items finish before
    /// the drop returns.
    fn drop(&mut self) {
        if !self.ended {
            self.ended = true;
            self.shared.stop();
            #[cfg(all(unix, feature = "processes"))]
            self.shared.kill_children();
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
            self.shared.report.finish("pool_map!(...; stream)");
        }
    }
}

/// One worker: builds its state, then takes chunks until the stream stops
/// or the items end.
fn work<M, I, W>(shared: &Shared<W::Output>, items: &Mutex<I>, task: &W)
where
    M: Mode<W::Output>,
    I: Iterator,
    W: WorkerTask<I::Item>,
{
    /// Counts the worker out, whatever happens.
    struct Exit<'a, U>(&'a Shared<U>);
    impl<U> Drop for Exit<'_, U> {
        fn drop(&mut self) {
            self.0.lock().running -= 1;
            self.0.arrived.notify_one();
        }
    }
    let _exit = Exit(shared);
    let base = &shared.plan.base;
    crate::thread_name::name_os_thread(base);
    let _name = name::enter(base.clone());
    let mut state = task.try_start();
    let quiet = shared.report.is_quiet();
    // The outcomes of a chunk's items reach the consumer together, at most
    // `FLUSH_EVERY` after the first of them ended: one lock for many cheap
    // items, and no wait for the consumer on a slow one.
    const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_micros(200);
    let mut answers: Vec<Answer<W::Output>> = Vec::new();
    let mut since = std::time::Instant::now();
    while let Some((first, chunk)) = shared.take::<M, I>(items) {
        let last = first + chunk.len() - 1;
        for (index, item) in (first..).zip(chunk) {
            if !shared.plan.may_start() {
                drop(item);
                answers.push((index, None));
                if index == last {
                    shared.put_all(answers.drain(..));
                }
                continue;
            }
            let name = || base.with_index(index);
            name::set_current_index(index);
            let outcome = match &mut state {
                Ok(state) => {
                    let started = if quiet {
                        crate::report::Started::none()
                    } else {
                        shared.report.start(name())
                    };
                    let ran = catch_unwind(AssertUnwindSafe(|| task.call(state, item)));
                    if !quiet {
                        shared.report.end(started);
                    }
                    ran.map_err(|payload| {
                        // Named after the item while its panic was reported.
                        crate::thread_name::name_os_thread(base);
                        Error::from_panic(name(), &*payload)
                    })
                }
                Err(why) => Err(Error::new(name(), ErrorKind::Init(why.clone()))),
            };
            let stops = M::stops_on(&outcome);
            if stops {
                shared.plan.stop(Stop::Failed);
            }
            if answers.is_empty() {
                since = std::time::Instant::now();
            }
            answers.push((index, Some(outcome)));
            if index == last || stops || since.elapsed() >= FLUSH_EVERY {
                shared.put_all(answers.drain(..));
            }
        }
    }
}
