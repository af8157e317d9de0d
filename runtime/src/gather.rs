//! Futures polled together on the current task: what `gather!` expands to
//! (Python's `asyncio.gather`), and [`run`] (`asyncio.run`).
//!
//! The collecting forms are [`Group`] (a fixed list) and [`gather_each`] /
//! [`gather_outputs`] (the loop form). `gather!(...; stream)` and
//! `...; unordered)` return a [`StreamInOrder`] or a [`StreamUnordered`]
//! (Python's `Executor.map(buffersize=)` and `as_completed`), and
//! `...; race)` polls until [`Group::poll_race`] or [`race_each`] has a
//! winner (`asyncio.wait(return_when=FIRST_COMPLETED)`, the others cancelled).
//!
//! Only a deadline ([`GatherOptions::timeout`], a Tokio timer) and a
//! [`Spawner`] (`spawn`, Tokio tasks) need a Tokio runtime, such as
//! [`run`] or `#[tokio::main]` give; outside one they panic with a message
//! that names the fix. Everything else runs on any executor.

use std::future::{Future, IntoFuture};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;

use crate::error::{Error, ErrorKind};
use crate::name::{self, WorkerName};
use crate::report::{Report, Started};

/// Runs `future` to completion on a new multi-threaded Tokio runtime and
/// returns its output: Python's `asyncio.run(main())`.
///
/// # Panics
/// If the runtime cannot be built, or when called from inside a Tokio runtime
/// (use `.await` there instead).
///
/// ```
/// async fn say_hello() -> &'static str {
///     "Hello"
/// }
/// assert_eq!(fanout::run(say_hello()), "Hello");
/// ```
pub fn run<F: IntoFuture>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("fanout::run: cannot build the Tokio runtime: {e}"))
        .block_on(future.into_future())
}

/// The future of a `gather!` task: `IntoFuture::into_future(task)`, with an
/// error that says what gather! expects when `task` is not a future.
pub fn future_of<F: GatherTask>(task: F) -> F::IntoFuture {
    task.into_future()
}

/// What `gather!` accepts as a task: anything that is (or turns into) a future.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a future, so gather! cannot await it",
    label = "not a future",
    note = "gather! takes futures: call an `async fn` (`task1()`) or write an `async {{ ... }}` block; to run plain functions concurrently use `spawn_threads!` or `pool_map!`"
)]
pub trait GatherTask: IntoFuture {}

impl<F: IntoFuture> GatherTask for F {}

/// Options of a gather (`gather!(a, b; timeout = Duration::from_secs(1), limit = 2)`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct GatherOptions {
    /// Futures still pending at this deadline (from the start of the gather)
    /// are dropped, and their outcome is a timed-out [`Error`]. Needs a Tokio
    /// runtime with its time driver (as `fanout::run` and `#[tokio::main]` give).
    pub timeout: Option<Duration>,
    /// At most this many futures are in flight at once; the others start, in
    /// task order, as earlier ones finish.
    pub limit: Option<usize>,
    /// With `stream` or `unordered`: at most this many items are taken from
    /// the iterator and not yet yielded (default: the `limit`, or unbounded).
    pub buffer: Option<usize>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print a chart of when each future ran on stderr afterwards.
    pub timeline: bool,
}

impl GatherOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deadline.
    ///
    /// # Panics
    /// The gather, when it starts outside a Tokio runtime: the deadline is a
    /// Tokio timer (run it inside [`run`] or `#[tokio::main]`).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the concurrency limit.
    ///
    /// # Panics
    /// If `limit` is 0.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        assert!(limit > 0, "fanout: limit must be at least 1");
        self.limit = Some(limit);
        self
    }

    /// Sets how many items a stream may take ahead of what it yielded.
    ///
    /// # Panics
    /// If `buffer` is 0.
    #[must_use]
    pub fn buffer(mut self, buffer: usize) -> Self {
        assert!(buffer > 0, "fanout: buffer must be at least 1");
        self.buffer = Some(buffer);
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
}

pin_project! {
    /// A future that runs as the worker `name`: the name is current while it is
    /// polled, and a panic inside it becomes an [`Error`] instead of unwinding.
    pub struct Named<F> {
        name: WorkerName,
        #[pin]
        future: F,
    }
}

impl<F: Future> Named<F> {
    /// Wraps `future` as the worker `name`.
    pub fn new(name: WorkerName, future: F) -> Self {
        Named { name, future }
    }
}

impl<F: Future> Future for Named<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _name = name::enter(this.name.clone());
        let future = this.future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(Error::from_panic(this.name.clone(), &*payload))),
        }
    }
}

/// Whether a task's output counts as a failure for the `try` option.
pub trait TryOutcome {
    /// `true` for an `Err`.
    fn is_failure(&self) -> bool;
}

impl<T, E> TryOutcome for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

pin_project! {
    /// One future of a fixed `gather!(a, b, c)`: it keeps the future's outcome
    /// once it is ready, until [`Group::take`] collects it.
    pub struct Slot<F: Future> {
        #[pin]
        future: Named<F>,
        output: Option<Result<F::Output, Error>>,
        is_failure: Option<fn(&F::Output) -> bool>,
        started: Option<Started>,
        state: SlotState,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Waiting,
    Running,
    Done,
}

impl<F: Future> Slot<F> {
    /// The slot of `future`, run as the worker `name`.
    pub fn new(name: WorkerName, future: F) -> Self {
        Slot {
            future: Named::new(name, future),
            output: None,
            is_failure: None,
            started: None,
            state: SlotState::Waiting,
        }
    }

    /// The slot of `future` in a `try` gather: an `Err` output stops the group.
    pub fn new_try(name: WorkerName, future: F) -> Self
    where
        F::Output: TryOutcome,
    {
        let mut slot = Slot::new(name, future);
        slot.is_failure = Some(|output: &F::Output| output.is_failure());
        slot
    }
}

/// What [`Group::poll`] needs of a [`Slot`], whatever its future's type.
pub trait PollSlot {
    /// Polls the slot's future (if it is running) and tells what happened.
    fn poll_slot(self: Pin<&mut Self>, cx: &mut Context<'_>, report: &Report) -> SlotPoll;
    /// Whether the slot's future has not started yet.
    fn is_waiting(&self) -> bool;
    /// Whether the slot's future finished with an output that wins a race:
    /// not a panic, and with `try` not an `Err`.
    fn has_won(&self) -> bool;
}

/// What happened when a slot was polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotPoll {
    /// Still running.
    Pending,
    /// Finished now or before.
    Done,
    /// Finished now with a failure that stops a `try` group.
    Failed,
}

impl<F: Future> PollSlot for Slot<F> {
    fn poll_slot(self: Pin<&mut Self>, cx: &mut Context<'_>, report: &Report) -> SlotPoll {
        let this = self.project();
        match *this.state {
            SlotState::Done => return SlotPoll::Done,
            SlotState::Waiting => {
                *this.state = SlotState::Running;
                *this.started = Some(report.start(this.future.name.clone()));
            }
            SlotState::Running => {}
        }
        match this.future.poll(cx) {
            Poll::Pending => SlotPoll::Pending,
            Poll::Ready(outcome) => {
                *this.state = SlotState::Done;
                if let Some(started) = this.started.take() {
                    report.end(started);
                }
                let failed = match (&outcome, this.is_failure) {
                    (Ok(output), Some(is_failure)) => is_failure(output),
                    _ => false,
                };
                *this.output = Some(outcome);
                if failed {
                    SlotPoll::Failed
                } else {
                    SlotPoll::Done
                }
            }
        }
    }

    fn is_waiting(&self) -> bool {
        self.state == SlotState::Waiting
    }

    fn has_won(&self) -> bool {
        match (&self.output, self.is_failure) {
            (Some(Ok(output)), Some(is_failure)) => !is_failure(output),
            (Some(Ok(_)), None) => true,
            _ => false,
        }
    }
}

/// Drives the slots of one fixed `gather!(a, b, c)`: limit, deadline, `try`.
///
/// ```
/// use std::pin::pin;
/// use fanout::{WorkerName, gather::{Group, GatherOptions, Slot}};
///
/// let (a, b) = fanout::run(async {
///     let mut group = Group::new(&GatherOptions::new());
///     let mut a = pin!(Slot::new(WorkerName::new("a"), async { 1 }));
///     let mut b = pin!(Slot::new(WorkerName::new("b"), async { "two" }));
///     std::future::poll_fn(|cx| group.poll(cx, &mut [a.as_mut(), b.as_mut()])).await;
///     (group.take(a), group.take(b))
/// });
/// assert_eq!((a.unwrap(), b.unwrap()), (1, "two"));
/// ```
pub struct Group {
    limit: usize,
    timeout: Option<Duration>,
    /// Where the gather is, for the panic outside a Tokio runtime.
    at: &'static Location<'static>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    end: End,
    report: Report,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Running,
    AllDone,
    Failed,
    TimedOut,
}

impl Group {
    /// A group with `options`.
    #[track_caller]
    pub fn new(options: &GatherOptions) -> Self {
        crate::thread_name::install_panic_hook();
        Group {
            limit: options.limit.unwrap_or(usize::MAX),
            timeout: options.timeout,
            at: Location::caller(),
            deadline: None,
            end: End::Running,
            report: Report::new(options.timeline, options.progress),
        }
    }

    /// Polls every running slot (starting waiting ones while the limit allows)
    /// and is ready when all are done, a `try` slot failed, or the deadline passed.
    pub fn poll(&mut self, cx: &mut Context<'_>, slots: &mut [Pin<&mut dyn PollSlot>]) -> Poll<()> {
        if self.end != End::Running {
            return Poll::Ready(());
        }
        if let Some(timeout) = self.timeout {
            let at = self.at;
            let deadline = self
                .deadline
                .get_or_insert_with(|| start_deadline(timeout, at));
            if deadline.as_mut().poll(cx).is_ready() {
                return self.stop(End::TimedOut);
            }
        }
        let mut in_flight = 0;
        let mut all_done = true;
        for slot in slots.iter_mut() {
            if slot.is_waiting() && in_flight >= self.limit {
                all_done = false;
                continue;
            }
            match slot.as_mut().poll_slot(cx, &self.report) {
                SlotPoll::Done => {}
                SlotPoll::Pending => {
                    in_flight += 1;
                    all_done = false;
                }
                SlotPoll::Failed => return self.stop(End::Failed),
            }
        }
        if all_done {
            return self.stop(End::AllDone);
        }
        Poll::Pending
    }

    /// [`poll`](Group::poll) for `race`: ready with the index of the first
    /// slot whose future finished with a winning output ([`PollSlot::has_won`]),
    /// or `None` once all finished without one or the deadline passed.
    pub fn poll_race(
        &mut self,
        cx: &mut Context<'_>,
        slots: &mut [Pin<&mut dyn PollSlot>],
    ) -> Poll<Option<usize>> {
        if self.end != End::Running {
            return Poll::Ready(None);
        }
        if let Some(timeout) = self.timeout {
            let at = self.at;
            let deadline = self
                .deadline
                .get_or_insert_with(|| start_deadline(timeout, at));
            if deadline.as_mut().poll(cx).is_ready() {
                let _ = self.stop(End::TimedOut);
                return Poll::Ready(None);
            }
        }
        let mut in_flight = 0;
        let mut all_done = true;
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.is_waiting() && in_flight >= self.limit {
                all_done = false;
                continue;
            }
            match slot.as_mut().poll_slot(cx, &self.report) {
                SlotPoll::Pending => {
                    in_flight += 1;
                    all_done = false;
                }
                SlotPoll::Done | SlotPoll::Failed if slot.has_won() => {
                    // The others are cancelled: their outcome is `Cancelled`.
                    let _ = self.stop(End::Failed);
                    return Poll::Ready(Some(index));
                }
                SlotPoll::Done | SlotPoll::Failed => {}
            }
        }
        if all_done {
            let _ = self.stop(End::AllDone);
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    fn stop(&mut self, end: End) -> Poll<()> {
        self.end = end;
        self.report.finish("gather!");
        Poll::Ready(())
    }

    /// The outcome of `slot` once the group is ready: its output, its panic,
    /// or a timed-out or cancelled [`Error`] if it never finished.
    pub fn take<F: Future>(&self, slot: Pin<&mut Slot<F>>) -> Result<F::Output, Error> {
        let this = slot.project();
        let name = &this.future.name;
        this.output
            .take()
            .unwrap_or_else(|| Err(self.unfinished(name.clone())))
    }

    fn unfinished(&self, name: WorkerName) -> Error {
        match (self.end, self.timeout) {
            (End::TimedOut, Some(timeout)) => Error::new(name, ErrorKind::Timeout(timeout)),
            _ => Error::new(name, ErrorKind::Cancelled),
        }
    }
}

/// Polls every future of `futures` concurrently on the current task and
/// returns their outcomes in input order: the loop form
/// `gather!(for i in items => future; catch)`. Future `k` runs as `base-k`.
///
/// ```
/// use fanout::{WorkerName, gather};
///
/// let outcomes = fanout::run(gather::gather_each(
///     &gather::GatherOptions::new(),
///     WorkerName::new("double"),
///     (0..3).map(|i| async move { i * 2 }),
/// ));
/// let doubled: Vec<i32> = outcomes.into_iter().map(Result::unwrap).collect();
/// assert_eq!(doubled, [0, 2, 4]);
/// ```
#[track_caller]
pub fn gather_each<I>(
    options: &GatherOptions,
    base: WorkerName,
    futures: I,
) -> GatherEach<'_, I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    GatherEach {
        drive: Drive::start(options, base, futures.into_iter(), Location::caller()),
        sink: Outcomes::new(None),
    }
}

/// [`gather_each`] for the `try` option: stops at the first `Err` output in
/// time, dropping (cancelling) the futures still running.
#[track_caller]
pub fn try_gather_each<I>(
    options: &GatherOptions,
    base: WorkerName,
    futures: I,
) -> GatherEach<'_, I::Item>
where
    I: IntoIterator,
    I::Item: Future,
    <I::Item as Future>::Output: TryOutcome,
{
    GatherEach {
        drive: Drive::start(options, base, futures.into_iter(), Location::caller()),
        sink: Outcomes::new(Some(|output: &<I::Item as Future>::Output| {
            output.is_failure()
        })),
    }
}

/// The loop form without `catch` or `try`, `gather!(for i in items =>
/// future)`: every output in input order, written straight into the result,
/// or the failures in input order (futures that panicked or timed out),
/// which the macro raises (`outcome::raise`) once every future ended.
///
/// ```
/// use fanout::{WorkerName, gather};
///
/// let doubled = fanout::run(gather::gather_outputs(
///     &gather::GatherOptions::new(),
///     WorkerName::new("double"),
///     (0..3).map(|i| async move { i * 2 }),
/// ));
/// assert_eq!(doubled.unwrap(), [0, 2, 4]);
/// ```
#[track_caller]
pub fn gather_outputs<I>(
    options: &GatherOptions,
    base: WorkerName,
    futures: I,
) -> GatherOutputs<'_, I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    GatherOutputs {
        drive: Drive::start(options, base, futures.into_iter(), Location::caller()),
        sink: Outputs::new(),
    }
}

/// The future of [`gather_each`] and [`try_gather_each`]. Its type depends on
/// the futures' type alone, not on the iterator that made them, so its code
/// is shared by every `gather!` of the same futures (compile time).
#[must_use = "futures do nothing unless awaited"]
pub struct GatherEach<'a, F: Future> {
    drive: Drive<'a, F>,
    sink: Outcomes<F::Output>,
}

// Nothing in it is pinned: the futures sit in `Drive` (see there), the
// outputs in vectors.
impl<F: Future> Unpin for GatherEach<'_, F> {}

impl<F: Future> Future for GatherEach<'_, F> {
    type Output = Vec<Result<F::Output, Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let end = std::task::ready!(this.drive.poll_drive(cx, &mut this.sink));
        let sink = std::mem::replace(&mut this.sink, Outcomes::new(None));
        Poll::Ready(sink.finish(this.drive.options, this.drive.base.clone(), end))
    }
}

/// The future of [`gather_outputs`]; see [`GatherEach`].
#[must_use = "futures do nothing unless awaited"]
pub struct GatherOutputs<'a, F: Future> {
    drive: Drive<'a, F>,
    sink: Outputs<F::Output>,
}

impl<F: Future> Unpin for GatherOutputs<'_, F> {}

impl<F: Future> Future for GatherOutputs<'_, F> {
    type Output = Result<Vec<F::Output>, Vec<Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let end = std::task::ready!(this.drive.poll_drive(cx, &mut this.sink));
        let sink = std::mem::replace(&mut this.sink, Outputs::new());
        Poll::Ready(sink.finish(this.drive.options, this.drive.base.clone(), end))
    }
}

/// Where a [`Drive`] puts each outcome as it arrives.
trait Sink<T> {
    /// Makes room for `total` outcomes.
    fn expect(&mut self, total: usize);
    /// Stores the outcome of future `index`; `true` stops the group (`try`).
    fn done(&mut self, index: usize, outcome: Result<T, Error>) -> bool;
}

/// Every outcome, for `catch` and `try`.
struct Outcomes<T> {
    slots: Vec<Option<Result<T, Error>>>,
    is_failure: Option<fn(&T) -> bool>,
}

impl<T> Outcomes<T> {
    fn new(is_failure: Option<fn(&T) -> bool>) -> Self {
        Outcomes {
            slots: Vec::new(),
            is_failure,
        }
    }

    /// The outcomes in input order; a future that never finished is
    /// timed out or cancelled, by how the group ended.
    fn finish(self, options: &GatherOptions, base: WorkerName, end: End) -> Vec<Result<T, Error>> {
        self.slots
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| Err(unfinished(options, base.with_index(index), end)))
            })
            .collect()
    }
}

impl<T> Sink<T> for Outcomes<T> {
    fn expect(&mut self, total: usize) {
        self.slots = std::iter::repeat_with(|| None).take(total).collect();
    }

    fn done(&mut self, index: usize, outcome: Result<T, Error>) -> bool {
        let failed = match (&outcome, self.is_failure) {
            (Ok(output), Some(is_failure)) => is_failure(output),
            _ => false,
        };
        self.slots[index] = Some(outcome);
        failed
    }
}

/// The outputs alone, for the default mode: no `Result` per future, the
/// failures aside.
///
/// Outputs usually arrive in input order (the futures start together and
/// most need as many wakes as their neighbours), and then go straight into
/// the result, as `join_all` does. The first output that arrives before an
/// earlier one switches to one slot per future.
struct Outputs<T> {
    outputs: Collected<T>,
    total: usize,
    failures: Vec<(usize, Error)>,
}

enum Collected<T> {
    /// The outputs of futures `0..len`: each one so far arrived in order.
    InOrder(Vec<T>),
    /// The output of each future, by index.
    Slots(Vec<Option<T>>),
}

impl<T> Outputs<T> {
    fn new() -> Self {
        Outputs {
            outputs: Collected::InOrder(Vec::new()),
            total: 0,
            failures: Vec::new(),
        }
    }

    /// Whether future `index` gave its output.
    fn is_written(&self, index: usize) -> bool {
        match &self.outputs {
            Collected::InOrder(outputs) => index < outputs.len(),
            Collected::Slots(slots) => slots.get(index).is_some_and(Option::is_some),
        }
    }

    /// The output of future `index`, which arrived before an earlier one.
    #[cold]
    fn out_of_order(&mut self, index: usize, output: T) {
        if let Collected::InOrder(outputs) = &mut self.outputs {
            let slots = std::mem::take(outputs)
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat_with(|| None))
                .take(self.total)
                .collect();
            self.outputs = Collected::Slots(slots);
        }
        let Collected::Slots(slots) = &mut self.outputs else {
            unreachable!("fanout: gather! outputs switched to slots")
        };
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(output),
            _ => unreachable!("fanout: gather! outcome {index} out of range or given twice"),
        }
    }

    fn finish(
        mut self,
        options: &GatherOptions,
        base: WorkerName,
        end: End,
    ) -> Result<Vec<T>, Vec<Error>> {
        if self.failures.is_empty() {
            match std::mem::replace(&mut self.outputs, Collected::InOrder(Vec::new())) {
                Collected::InOrder(outputs) if outputs.len() == self.total => return Ok(outputs),
                Collected::Slots(slots) if slots.iter().all(Option::is_some) => {
                    return Ok(slots.into_iter().flatten().collect());
                }
                outputs => self.outputs = outputs,
            }
        }
        let mut failures = std::mem::take(&mut self.failures);
        failures.sort_by_key(|(index, _)| *index);
        let failed: Vec<usize> = failures.iter().map(|(index, _)| *index).collect();
        for index in 0..self.total {
            if !self.is_written(index) && failed.binary_search(&index).is_err() {
                failures.push((index, unfinished(options, base.with_index(index), end)));
            }
        }
        failures.sort_by_key(|(index, _)| *index);
        Err(failures.into_iter().map(|(_, failure)| failure).collect())
    }
}

impl<T> Sink<T> for Outputs<T> {
    fn expect(&mut self, total: usize) {
        self.total = total;
        self.outputs = Collected::InOrder(Vec::with_capacity(total));
    }

    #[inline]
    fn done(&mut self, index: usize, outcome: Result<T, Error>) -> bool {
        match outcome {
            Ok(output) => match &mut self.outputs {
                Collected::InOrder(outputs) if outputs.len() == index => outputs.push(output),
                _ => self.out_of_order(index, output),
            },
            Err(failure) => self.failures.push((index, failure)),
        }
        false
    }
}

/// The error of a future that never finished: timed out or cancelled.
fn unfinished(options: &GatherOptions, name: WorkerName, end: End) -> Error {
    match (end, options.timeout) {
        (End::TimedOut, Some(timeout)) => Error::new(name, ErrorKind::Timeout(timeout)),
        _ => Error::new(name, ErrorKind::Cancelled),
    }
}

/// The deadline of a gather with a `timeout`, which needs a Tokio runtime's
/// timer: outside one, the panic says how to get one (and where the gather is).
fn start_deadline(timeout: Duration, at: &Location<'_>) -> Pin<Box<tokio::time::Sleep>> {
    if tokio::runtime::Handle::try_current().is_err() {
        no_runtime("timeout", at);
    }
    Box::pin(tokio::time::sleep(timeout))
}

/// The panic of an option that needs a Tokio runtime, used outside one.
#[cold]
fn no_runtime(option: &str, at: &Location<'_>) -> ! {
    panic!(
        "gather!(...; {option}) needs a Tokio runtime: run it inside `fanout::run(...)` or `#[tokio::main]` (the gather! at {at})"
    )
}

/// Polls the futures of a loop-form gather together, handing each outcome to
/// a sink as it arrives, until all finished, the sink stops the group
/// (`try`), or the deadline passed.
///
/// Without a `limit` the futures go straight from the iterator into the set
/// that polls them: all are created before any is polled (as Python's
/// `gather(*(worker(i) for i in range(5)))` does), and none waits in a `Vec`.
struct Drive<'a, F> {
    options: &'a GatherOptions,
    base: WorkerName,
    /// Where the gather is, for the panic outside a Tokio runtime.
    at: &'static Location<'static>,
    running: FuturesUnordered<Entry<F>>,
    /// With a `limit`, the futures not started yet.
    waiting: Option<std::iter::Enumerate<std::vec::IntoIter<F>>>,
    /// Start times, by index, with the timeline only.
    starts: Vec<Started>,
    report: Report,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set once the group ended.
    end: Option<End>,
    /// Whether the sink was told the total yet.
    started: bool,
}

// The waiting futures are never pinned (they move into `running` to start),
// and `running` pins each future in its own allocation.
impl<F> Unpin for Drive<'_, F> {}

impl<'a, F: Future> Drive<'a, F> {
    /// Creates every future (or, with a `limit`, collects them and starts
    /// the first ones). The only code that depends on the iterator's type.
    fn start(
        options: &'a GatherOptions,
        base: WorkerName,
        futures: impl Iterator<Item = F>,
        at: &'static Location<'static>,
    ) -> Self {
        let mut drive = Drive {
            options,
            base,
            at,
            running: FuturesUnordered::new(),
            waiting: None,
            starts: Vec::new(),
            report: Report::new(options.timeline, options.progress),
            deadline: None,
            end: None,
            started: false,
        };
        match options.limit {
            None => {
                for (index, future) in futures.enumerate() {
                    drive.push(index, future);
                }
            }
            Some(limit) => {
                let futures: Vec<F> = futures.collect();
                let mut rest = futures.into_iter().enumerate();
                for (index, future) in rest.by_ref().take(limit.max(1)) {
                    drive.push(index, future);
                }
                drive.waiting = Some(rest);
            }
        }
        drive
    }

    fn push(&mut self, index: usize, future: F) {
        if self.report.timeline_enabled() {
            self.starts
                .push(self.report.start(self.base.with_index(index)));
        }
        self.running.push(Entry { index, future });
    }

    fn poll_drive<S: Sink<F::Output>>(&mut self, cx: &mut Context<'_>, sink: &mut S) -> Poll<End> {
        if let Some(end) = self.end {
            return Poll::Ready(end);
        }
        if !self.started {
            self.started = true;
            crate::thread_name::install_panic_hook();
            let total =
                self.running.len() + self.waiting.as_ref().map_or(0, ExactSizeIterator::len);
            self.report.expect(total);
            sink.expect(total);
            self.deadline = self.options.timeout.map(|t| start_deadline(t, self.at));
        }
        // The futures run as `base-index`: the base is entered once per poll
        // of the group, and each future stores its index (see `Entry`).
        let name = name::enter(self.base.clone());
        let end = loop {
            if let Some(deadline) = self.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                break End::TimedOut;
            }
            let (index, outcome) = match self.running.poll_next_unpin(cx) {
                Poll::Ready(Some(done)) => done,
                Poll::Ready(None) => break End::AllDone,
                Poll::Pending => return Poll::Pending,
            };
            let started = match self.starts.get_mut(index) {
                Some(started) => std::mem::replace(started, Started::none()),
                None => Started::none(),
            };
            self.report.end(started);
            if sink.done(index, outcome) {
                break End::Failed;
            }
            if let Some((index, future)) = self.waiting.as_mut().and_then(Iterator::next) {
                self.push(index, future);
            }
        };
        drop(name);
        // The futures still running are dropped (cancelled) now.
        self.running = FuturesUnordered::new();
        self.waiting = None;
        self.deadline = None;
        self.report.finish("gather!");
        self.end = Some(end);
        Poll::Ready(end)
    }
}

pin_project! {
    /// One future of a loop-form gather: it runs as `base-index` (the name is
    /// current while it is polled: the group that polls it enters the base,
    /// the entry sets its index), and a panic inside it becomes an [`Error`].
    struct Entry<F> {
        index: usize,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Entry<F> {
    type Output = (usize, Result<F::Output, Error>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let index = *this.index;
        name::set_current_index(index);
        let future = this.future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready((index, Ok(output))),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                // The group entered the base (a worker nested in the future
                // restored it when it ended).
                name::set_current_index(index);
                let name = name::current_worker().unwrap_or(WorkerName::indexed("task", index));
                Poll::Ready((index, Err(Error::from_panic(name, &*payload))))
            }
        }
    }
}

/// The Tokio tasks of one `gather!(...; spawn)`, as tokio's `JoinSet`:
/// nothing spawned outlives the gather.
///
/// [`Spawner::spawn`] gives a future that becomes a Tokio task only when the
/// gather first polls it, so that `limit = N` counts tasks: at most N exist
/// at once, the others are spawned as slots free up. A task still running
/// when the gather ends early (`timeout`, `try`) is aborted as its future is
/// dropped, and [`Spawner::join_aborted`] awaits it; the macro awaits that
/// before it returns. If the gather itself is dropped before it ends (its
/// caller cancelled, or unwinding from a panic), its tasks are aborted but
/// cannot be awaited (a `Drop` cannot wait): each stops at its next `.await`.
///
/// ```
/// use fanout::{WorkerName, gather};
///
/// let doubled = fanout::run(async {
///     let spawner = gather::Spawner::current();
///     let options = gather::GatherOptions::new().limit(2);
///     let tasks = (0..4).map(|i| spawner.spawn(WorkerName::new("double").with_index(i), async move { i * 2 }));
///     let outputs = gather::gather_outputs(&options, WorkerName::new("double"), tasks).await;
///     spawner.join_aborted().await;
///     outputs
/// });
/// assert_eq!(doubled.unwrap(), [0, 2, 4, 6]);
/// ```
#[derive(Clone)]
pub struct Spawner {
    runtime: tokio::runtime::Handle,
    /// The tasks aborted so far, each waiting for its end (shared with the
    /// clones of this spawner and with its tasks' futures).
    aborted: Arc<Mutex<Vec<Aborted>>>,
}

/// The end of an aborted task.
type Aborted = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Spawner {
    /// A spawner on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime, with a message that says how to get one.
    #[track_caller]
    pub fn current() -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Spawner {
                runtime,
                aborted: Arc::new(Mutex::new(Vec::new())),
            },
            Err(_) => no_runtime("spawn", Location::caller()),
        }
    }

    /// `future` as a Tokio task named `name`, spawned when it is first polled.
    ///
    /// The returned future resolves to the task's output; a panic in the
    /// task is carried over (with its message) to whoever polls it.
    /// Dropping it aborts the task, which [`Spawner::join_aborted`] awaits.
    pub fn spawn<F>(&self, name: WorkerName, future: F) -> Spawned<F::IntoFuture>
    where
        F: IntoFuture,
        F::IntoFuture: Send + 'static,
        F::Output: Send + 'static,
    {
        Spawned {
            runtime: self.runtime.clone(),
            aborted: Arc::clone(&self.aborted),
            state: SpawnState::Waiting(name, future.into_future()),
        }
    }

    /// [`Spawner::spawn`] as a function of `(name, future)` that owns this
    /// spawner: the loop form of a streaming `gather!(...; stream, spawn)`,
    /// whose futures outlive the block that made them.
    pub fn spawn_each<F>(self) -> impl FnMut((WorkerName, F)) -> Spawned<F::IntoFuture>
    where
        F: IntoFuture,
        F::IntoFuture: Send + 'static,
        F::Output: Send + 'static,
    {
        move |(name, future)| self.spawn(name, future)
    }

    /// Waits until every task aborted so far has ended: once it returns, no
    /// task of this spawner runs (those whose futures were dropped).
    pub async fn join_aborted(&self) {
        loop {
            let aborted = std::mem::take(&mut *self.aborted());
            if aborted.is_empty() {
                return;
            }
            let mut ending: FuturesUnordered<Aborted> = aborted.into_iter().collect();
            while ending.next().await.is_some() {}
        }
    }

    fn aborted(&self) -> std::sync::MutexGuard<'_, Vec<Aborted>> {
        lock_aborted(&self.aborted)
    }

    /// Polls the ends of the tasks aborted so far (`ending` holds those
    /// being awaited): ready once none runs. [`Spawner::join_aborted`] for a
    /// stream, which cannot hold a future that borrows its own spawner.
    fn poll_join_aborted(
        &self,
        ending: &mut FuturesUnordered<Aborted>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            if ending.is_empty() {
                let aborted = std::mem::take(&mut *self.aborted());
                if aborted.is_empty() {
                    return Poll::Ready(());
                }
                ending.extend(aborted);
            }
            while std::task::ready!(ending.poll_next_unpin(cx)).is_some() {}
        }
    }
}

fn lock_aborted(aborted: &Mutex<Vec<Aborted>>) -> std::sync::MutexGuard<'_, Vec<Aborted>> {
    aborted.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner")
            .field("aborted", &self.aborted().len())
            .finish_non_exhaustive()
    }
}

/// The future of a task of [`Spawner::spawn`].
#[must_use = "futures do nothing unless polled"]
pub struct Spawned<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime: tokio::runtime::Handle,
    /// The aborted tasks of its [`Spawner`].
    aborted: Arc<Mutex<Vec<Aborted>>>,
    state: SpawnState<F>,
}

enum SpawnState<F: Future> {
    /// Not polled yet: not spawned.
    Waiting(WorkerName, F),
    Running(tokio::task::JoinHandle<Result<F::Output, Error>>),
    Done,
}

// The future is never pinned here: it moves into its Tokio task to start.
impl<F> Unpin for Spawned<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
}

impl<F> Future for Spawned<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if let SpawnState::Waiting(..) = this.state {
            let SpawnState::Waiting(name, future) =
                std::mem::replace(&mut this.state, SpawnState::Done)
            else {
                unreachable!("fanout: the state was just matched")
            };
            let handle = this.runtime.spawn(Named::new(name, future));
            this.state = SpawnState::Running(handle);
        }
        let SpawnState::Running(handle) = &mut this.state else {
            panic!("fanout: a spawned gather! future was polled after it completed")
        };
        let joined = std::task::ready!(Pin::new(handle).poll(cx));
        this.state = SpawnState::Done;
        match joined {
            Ok(Ok(output)) => Poll::Ready(output),
            Ok(Err(failure)) => {
                let message = failure.panic_message().unwrap_or_default().to_owned();
                std::panic::resume_unwind(Box::new(message))
            }
            Err(join_error) => std::panic::resume_unwind(Box::new(join_error.to_string())),
        }
    }
}

impl<F> Drop for Spawned<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        let SpawnState::Running(handle) = std::mem::replace(&mut self.state, SpawnState::Done)
        else {
            return;
        };
        if handle.is_finished() {
            return;
        }
        handle.abort();
        let ending: Aborted = Box::pin(async move {
            let _ = handle.await;
        });
        lock_aborted(&self.aborted).push(ending);
    }
}

// Streams and races: `gather!(for x in items => task(x); stream)`,
// `...; unordered)` and `gather!(a(), b(); race)`.

/// How a streaming gather turns each item's outcome into what it yields, by
/// the `catch` and `try` options: one of the markers of [`yields`].
pub trait Yields<T> {
    /// What the stream yields for one item.
    type Item;
    /// What to do with the outcome of one item.
    fn step(outcome: Result<T, Error>) -> Step<Self::Item>;
    /// Whether `outcome` will end the stream once it is yielded: then no
    /// later item is ever yielded, so none needs to start.
    fn ends(outcome: &Result<T, Error>) -> bool;
}

/// What a stream does with the outcome of one item.
#[derive(Debug)]
pub enum Step<T> {
    /// Yield it and go on.
    Yield(T),
    /// Yield it, then end: no new item starts (`try` met an error).
    YieldAndEnd(T),
    /// Without `catch`, a failed item: once the running items ended, the
    /// stream panics with it.
    Fail(Error),
}

/// The markers of [`Yields`], one per combination of `catch` and `try`.
pub mod yields {
    use super::{Error, Step, Yields};

    /// Neither `catch` nor `try`: the outputs; a failure makes the stream panic.
    #[derive(Clone, Copy, Debug)]
    pub struct Outputs;
    /// `catch`: `Result<T, fanout::Error>` per item.
    #[derive(Clone, Copy, Debug)]
    pub struct Caught;
    /// `try`: the tasks' `Result<T, E>`; the stream ends after the first `Err`.
    #[derive(Clone, Copy, Debug)]
    pub struct Tried;
    /// `try` and `catch`: a failure becomes `E::from(fanout::Error)` and ends
    /// the stream too.
    #[derive(Clone, Copy, Debug)]
    pub struct TriedCaught;

    impl<T> Yields<T> for Outputs {
        type Item = T;
        fn step(outcome: Result<T, Error>) -> Step<T> {
            match outcome {
                Ok(output) => Step::Yield(output),
                Err(failure) => Step::Fail(failure),
            }
        }
        fn ends(outcome: &Result<T, Error>) -> bool {
            outcome.is_err()
        }
    }

    impl<T> Yields<T> for Caught {
        type Item = Result<T, Error>;
        fn step(outcome: Result<T, Error>) -> Step<Result<T, Error>> {
            Step::Yield(outcome)
        }
        fn ends(_: &Result<T, Error>) -> bool {
            false
        }
    }

    impl<T, E> Yields<Result<T, E>> for Tried {
        type Item = Result<T, E>;
        fn step(outcome: Result<Result<T, E>, Error>) -> Step<Result<T, E>> {
            match outcome {
                Ok(Ok(output)) => Step::Yield(Ok(output)),
                Ok(Err(error)) => Step::YieldAndEnd(Err(error)),
                Err(failure) => Step::Fail(failure),
            }
        }
        fn ends(outcome: &Result<Result<T, E>, Error>) -> bool {
            !matches!(outcome, Ok(Ok(_)))
        }
    }

    impl<T, E: From<Error>> Yields<Result<T, E>> for TriedCaught {
        type Item = Result<T, E>;
        fn step(outcome: Result<Result<T, E>, Error>) -> Step<Result<T, E>> {
            match outcome {
                Ok(Ok(output)) => Step::Yield(Ok(output)),
                Ok(Err(error)) => Step::YieldAndEnd(Err(error)),
                Err(failure) => Step::YieldAndEnd(Err(E::from(failure))),
            }
        }
        fn ends(outcome: &Result<Result<T, E>, Error>) -> bool {
            !matches!(outcome, Ok(Ok(_)))
        }
    }
}

/// The output of the futures that the iterator `I` gives.
type OutputOf<I> = <<I as Iterator>::Item as Future>::Output;

/// The outcome of item `index` of a stream or a race.
type IndexedOutcome<I> = (usize, Result<OutputOf<I>, Error>);

/// The futures of a stream or a race, taken from their iterator only when
/// one may start (so an endless iterator works), and polled together.
struct LazyFutures<I: Iterator> {
    /// `None` once exhausted, or once no new item may start.
    items: Option<I>,
    base: WorkerName,
    running: FuturesUnordered<Entry<I::Item>>,
    /// How many items were taken so far: the index of the next one.
    taken: usize,
    limit: usize,
    report: Report,
    /// Start times of the running items, with the timeline only.
    starts: std::collections::HashMap<usize, Started>,
    /// With `spawn`, to await the tasks aborted when the stream ends early.
    spawner: Option<Spawner>,
    ending: FuturesUnordered<Aborted>,
    /// Whether the report was finished (the bar cleared, the chart printed).
    reported: bool,
}

impl<I> LazyFutures<I>
where
    I: Iterator,
    I::Item: Future,
{
    fn new(options: &GatherOptions, base: WorkerName, items: I) -> Self {
        crate::thread_name::install_panic_hook();
        let report = Report::new(options.timeline, options.progress);
        match items.size_hint() {
            (low, Some(high)) if low == high => report.expect(low),
            _ => report.expect_unknown(),
        }
        LazyFutures {
            items: Some(items),
            base,
            running: FuturesUnordered::new(),
            taken: 0,
            limit: options.limit.unwrap_or(usize::MAX),
            report,
            starts: std::collections::HashMap::new(),
            spawner: None,
            ending: FuturesUnordered::new(),
            reported: false,
        }
    }

    /// Takes and starts items while fewer than `limit` run and `room` allows.
    fn start_more(&mut self, mut room: usize) {
        while room > 0 && self.running.len() < self.limit {
            let Some(items) = self.items.as_mut() else {
                return;
            };
            let Some(future) = items.next() else {
                self.items = None;
                return;
            };
            let index = self.taken;
            self.taken += 1;
            room -= 1;
            if self.report.timeline_enabled() {
                let started = self.report.start(self.base.with_index(index));
                self.starts.insert(index, started);
            }
            self.running.push(Entry { index, future });
        }
    }

    /// Whether every item was taken (or no new one may start).
    fn exhausted(&self) -> bool {
        self.items.is_none()
    }

    /// The next outcome of a running item; `None` when none runs.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Option<IndexedOutcome<I>>> {
        let polled = {
            // As in `Drive::poll_drive`: the base once, each future its index.
            let _name = name::enter(self.base.clone());
            self.running.poll_next_unpin(cx)
        };
        let done = std::task::ready!(polled);
        if let Some((index, _)) = &done {
            let started = self.starts.remove(index).unwrap_or_else(Started::none);
            self.report.end(started);
        }
        Poll::Ready(done)
    }

    /// No new item starts; the running ones go on.
    fn stop_starting(&mut self) {
        self.items = None;
    }

    /// No new item starts, and the running ones are dropped (cancelled;
    /// spawned tasks are aborted).
    fn stop(&mut self) {
        self.items = None;
        self.running = FuturesUnordered::new();
        self.starts.clear();
    }

    /// Ready once the tasks aborted by [`stop`](Self::stop) ended (with
    /// `spawn`); finishes the report.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(spawner) = &self.spawner {
            std::task::ready!(spawner.poll_join_aborted(&mut self.ending, cx));
        }
        self.finish_report();
        Poll::Ready(())
    }

    fn finish_report(&mut self) {
        if !self.reported {
            self.reported = true;
            self.report.finish("gather!");
        }
    }
}

impl<I: Iterator> Drop for LazyFutures<I> {
    fn drop(&mut self) {
        // Dropped early (cancelled): the bar is cleared and the chart of
        // what ran so far is printed.
        if !self.reported {
            self.reported = true;
            self.report.finish("gather!");
        }
    }
}

/// Where a stream is.
enum StreamState {
    Running,
    /// Without `catch`, an item failed: no new item starts, the running ones
    /// are polled to the end, then the stream panics with every failure.
    Failing(Vec<(usize, Error)>),
    /// Awaiting the aborted tasks (with `spawn`) before the end.
    Ending,
    Done,
}

/// The stream of `gather!(for x in items => task(x); stream)`: every output
/// in input order, as soon as it and those before it are ready.
///
/// Items are taken from the iterator lazily: at most `buffer` are taken and
/// not yet yielded (default: `limit`, or unbounded), at most `limit` run.
/// Dropping the stream cancels it: no new item starts, the running futures
/// are dropped (spawned tasks aborted).
///
/// ```
/// use futures::StreamExt;
/// use fanout::{WorkerName, gather};
///
/// let squares: Vec<u64> = fanout::run(async {
///     let options = gather::GatherOptions::new().limit(4);
///     let futures = (0..).map(|i: u64| async move { i * i });
///     let stream = gather::stream_in_order(options, WorkerName::new("square"), futures, gather::yields::Outputs);
///     stream.take(5).collect().await
/// });
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
///
/// # Panics
/// Without `catch`, when the next item to yield failed (its future
/// panicked): once the futures still running have been polled to their end.
#[must_use = "streams do nothing unless polled"]
pub struct StreamInOrder<I, M>
where
    I: Iterator,
    I::Item: Future,
{
    futures: LazyFutures<I>,
    buffer: usize,
    /// The outcomes of items `next..taken`, those that arrived.
    held: std::collections::VecDeque<Option<Result<<I::Item as Future>::Output, Error>>>,
    /// The index of the next item to yield.
    next: usize,
    state: StreamState,
    yields: std::marker::PhantomData<fn() -> M>,
}

/// The stream of `gather!(for x in items => task(x); unordered)`:
/// `(index, output)` in completion order (Python's `asyncio.as_completed`,
/// with the index). Lazy and cancelled on drop as [`StreamInOrder`].
///
/// ```
/// use futures::StreamExt;
/// use fanout::{WorkerName, gather};
///
/// let done: Vec<(usize, u32)> = fanout::run(async {
///     let futures = [30, 10, 20].map(|ms| async move {
///         tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
///         ms as u32
///     });
///     let options = gather::GatherOptions::new();
///     gather::stream_unordered(options, WorkerName::new("nap"), futures, gather::yields::Outputs).collect().await
/// });
/// assert_eq!(done, [(1, 10), (2, 20), (0, 30)]);
/// ```
///
/// # Panics
/// As [`StreamInOrder`], when it would yield a failed item.
#[must_use = "streams do nothing unless polled"]
pub struct StreamUnordered<I, M>
where
    I: Iterator,
    I::Item: Future,
{
    futures: LazyFutures<I>,
    buffer: usize,
    state: StreamState,
    yields: std::marker::PhantomData<fn() -> M>,
}

// Nothing in them is pinned: the futures sit in a `FuturesUnordered`, which
// pins each in its own allocation; the iterator and the outcomes move freely.
impl<I, M> Unpin for StreamInOrder<I, M>
where
    I: Iterator,
    I::Item: Future,
{
}

impl<I, M> Unpin for StreamUnordered<I, M>
where
    I: Iterator,
    I::Item: Future,
{
}

/// The stream of the outputs of `futures` in input order; see [`StreamInOrder`].
pub fn stream_in_order<I, M>(
    options: GatherOptions,
    base: WorkerName,
    futures: I,
    yields: M,
) -> StreamInOrder<I::IntoIter, M>
where
    I: IntoIterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    let _ = yields;
    StreamInOrder {
        futures: LazyFutures::new(&options, base, futures.into_iter()),
        buffer: options.buffer.or(options.limit).unwrap_or(usize::MAX),
        held: std::collections::VecDeque::new(),
        next: 0,
        state: StreamState::Running,
        yields: std::marker::PhantomData,
    }
}

/// The stream of the outputs of `futures` in completion order; see
/// [`StreamUnordered`].
pub fn stream_unordered<I, M>(
    options: GatherOptions,
    base: WorkerName,
    futures: I,
    yields: M,
) -> StreamUnordered<I::IntoIter, M>
where
    I: IntoIterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    let _ = yields;
    StreamUnordered {
        futures: LazyFutures::new(&options, base, futures.into_iter()),
        buffer: options.buffer.or(options.limit).unwrap_or(usize::MAX),
        state: StreamState::Running,
        yields: std::marker::PhantomData,
    }
}

impl<I, M> StreamInOrder<I, M>
where
    I: Iterator,
    I::Item: Future,
{
    /// With `spawn`: the futures are tasks of `spawner`, and those aborted
    /// when the stream ends early are awaited before it ends.
    pub fn joining(mut self, spawner: Spawner) -> Self {
        self.futures.spawner = Some(spawner);
        self
    }
}

impl<I, M> StreamUnordered<I, M>
where
    I: Iterator,
    I::Item: Future,
{
    /// See [`StreamInOrder::joining`].
    pub fn joining(mut self, spawner: Spawner) -> Self {
        self.futures.spawner = Some(spawner);
        self
    }
}

/// The `Failing` state of a stream: polls the running futures to their end,
/// collecting failures, then panics with all of them in input order.
fn poll_failing<I>(
    futures: &mut LazyFutures<I>,
    failures: &mut Vec<(usize, Error)>,
    cx: &mut Context<'_>,
) -> Poll<std::convert::Infallible>
where
    I: Iterator,
    I::Item: Future,
{
    while let Some((index, outcome)) = std::task::ready!(futures.poll_outcome(cx)) {
        if let Err(failure) = outcome {
            failures.push((index, failure));
        }
    }
    std::task::ready!(futures.poll_end(cx));
    failures.sort_by_key(|(index, _)| *index);
    let failures = std::mem::take(failures);
    crate::outcome::raise(failures.into_iter().map(|(_, failure)| Some(failure)))
}

impl<I, M> futures::Stream for StreamInOrder<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    type Item = M::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<M::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                StreamState::Done => return Poll::Ready(None),
                StreamState::Ending => {
                    std::task::ready!(this.futures.poll_end(cx));
                    this.state = StreamState::Done;
                    return Poll::Ready(None);
                }
                StreamState::Failing(failures) => {
                    // Outcomes taken but never to be yielded: their failures
                    // are reported too.
                    for (offset, outcome) in this.held.drain(..).enumerate() {
                        if let Some(Err(failure)) = outcome {
                            failures.push((this.next + offset, failure));
                        }
                    }
                    match poll_failing(&mut this.futures, failures, cx) {
                        Poll::Pending => return Poll::Pending,
                    }
                }
                StreamState::Running => {}
            }
            if let Some(Some(_)) = this.held.front() {
                let Some(Some(outcome)) = this.held.pop_front() else {
                    unreachable!("fanout: the front outcome was just matched")
                };
                let index = this.next;
                this.next += 1;
                match M::step(outcome) {
                    Step::Yield(item) => return Poll::Ready(Some(item)),
                    Step::YieldAndEnd(item) => {
                        this.futures.stop();
                        this.held.clear();
                        this.state = StreamState::Ending;
                        return Poll::Ready(Some(item));
                    }
                    Step::Fail(failure) => {
                        this.futures.stop_starting();
                        this.state = StreamState::Failing(vec![(index, failure)]);
                        continue;
                    }
                }
            }
            let held = this.futures.taken - this.next;
            this.futures.start_more(this.buffer.saturating_sub(held));
            match this.futures.poll_outcome(cx) {
                Poll::Ready(Some((index, outcome))) => {
                    // Nothing after an item that ends the stream is yielded.
                    if M::ends(&outcome) {
                        this.futures.stop_starting();
                    }
                    let offset = index - this.next;
                    if this.held.len() <= offset {
                        this.held.resize_with(offset + 1, || None);
                    }
                    this.held[offset] = Some(outcome);
                }
                Poll::Ready(None) if this.futures.exhausted() && this.held.is_empty() => {
                    this.state = StreamState::Ending;
                }
                // Nothing runs, but items remain: start them.
                Poll::Ready(None) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<I, M> futures::Stream for StreamUnordered<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    type Item = (usize, M::Item);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                StreamState::Done => return Poll::Ready(None),
                StreamState::Ending => {
                    std::task::ready!(this.futures.poll_end(cx));
                    this.state = StreamState::Done;
                    return Poll::Ready(None);
                }
                StreamState::Failing(failures) => {
                    match poll_failing(&mut this.futures, failures, cx) {
                        Poll::Pending => return Poll::Pending,
                    }
                }
                StreamState::Running => {}
            }
            let held = this.futures.running.len();
            this.futures.start_more(this.buffer.saturating_sub(held));
            match this.futures.poll_outcome(cx) {
                Poll::Ready(Some((index, outcome))) => match M::step(outcome) {
                    Step::Yield(item) => return Poll::Ready(Some((index, item))),
                    Step::YieldAndEnd(item) => {
                        this.futures.stop();
                        this.state = StreamState::Ending;
                        return Poll::Ready(Some((index, item)));
                    }
                    Step::Fail(failure) => {
                        this.futures.stop_starting();
                        this.state = StreamState::Failing(vec![(index, failure)]);
                    }
                },
                Poll::Ready(None) if this.futures.exhausted() => {
                    this.state = StreamState::Ending;
                }
                Poll::Ready(None) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<I, M> futures::stream::FusedStream for StreamInOrder<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, StreamState::Done)
    }
}

impl<I, M> futures::stream::FusedStream for StreamUnordered<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: Yields<<I::Item as Future>::Output>,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, StreamState::Done)
    }
}

pub use crate::outcome::RaceEnd;

/// The loop form of a race, `gather!(for m in mirrors => fetch(m); race)`:
/// ready with the output of the first future to finish (with
/// [`try_race_each`], the first `Ok`); the others are dropped then.
///
/// ```
/// use std::time::Duration;
/// use fanout::{WorkerName, gather};
///
/// let fastest = fanout::run(async {
///     let options = gather::GatherOptions::new();
///     let naps = [30, 10, 20].map(|ms| async move {
///         tokio::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     gather::race_output(gather::race_each(&options, WorkerName::new("nap"), naps).await)
/// });
/// assert_eq!(fastest, 10);
/// ```
#[track_caller]
pub fn race_each<I>(
    options: &GatherOptions,
    base: WorkerName,
    futures: I,
) -> RaceEach<'_, I::IntoIter>
where
    I: IntoIterator,
    I::Item: Future,
{
    RaceEach {
        options,
        at: Location::caller(),
        futures: LazyFutures::new(options, base, futures.into_iter()),
        deadline: None,
        started: false,
        is_failure: None,
        lost: Vec::new(),
    }
}

/// [`race_each`] for `try`: an `Err` output does not win.
#[track_caller]
pub fn try_race_each<I>(
    options: &GatherOptions,
    base: WorkerName,
    futures: I,
) -> RaceEach<'_, I::IntoIter>
where
    I: IntoIterator,
    I::Item: Future,
    <I::Item as Future>::Output: TryOutcome,
{
    let mut race = race_each(options, base, futures);
    race.is_failure = Some(|output: &<I::Item as Future>::Output| output.is_failure());
    race
}

/// The future of [`race_each`].
#[must_use = "futures do nothing unless awaited"]
pub struct RaceEach<'a, I>
where
    I: Iterator,
    I::Item: Future,
{
    options: &'a GatherOptions,
    at: &'static Location<'static>,
    futures: LazyFutures<I>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    started: bool,
    is_failure: Option<fn(&OutputOf<I>) -> bool>,
    /// The outcomes of the tasks that finished without winning.
    lost: Vec<IndexedOutcome<I>>,
}

impl<I> Unpin for RaceEach<'_, I>
where
    I: Iterator,
    I::Item: Future,
{
}

impl<I> Future for RaceEach<'_, I>
where
    I: Iterator,
    I::Item: Future,
{
    type Output = RaceEnd<<I::Item as Future>::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            this.deadline = this.options.timeout.map(|t| start_deadline(t, this.at));
        }
        let end = loop {
            if let Some(deadline) = this.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                break End::TimedOut;
            }
            this.futures.start_more(usize::MAX);
            match this.futures.poll_outcome(cx) {
                Poll::Ready(Some((index, outcome))) => {
                    let won = match (&outcome, this.is_failure) {
                        (Ok(output), Some(is_failure)) => !is_failure(output),
                        (Ok(_), None) => true,
                        (Err(_), _) => false,
                    };
                    match outcome {
                        Ok(output) if won => {
                            this.futures.stop();
                            this.futures.finish_report();
                            return Poll::Ready(RaceEnd::Won(output));
                        }
                        outcome => this.lost.push((index, outcome)),
                    }
                }
                Poll::Ready(None) if this.futures.exhausted() => break End::AllDone,
                Poll::Ready(None) => {}
                Poll::Pending => return Poll::Pending,
            }
        };
        this.futures.stop();
        this.futures.finish_report();
        this.deadline = None;
        let mut outcomes: Vec<Option<Result<_, Error>>> = std::iter::repeat_with(|| None)
            .take(this.futures.taken)
            .collect();
        for (index, outcome) in this.lost.drain(..) {
            outcomes[index] = Some(outcome);
        }
        let base = &this.futures.base;
        let outcomes = outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome
                    .unwrap_or_else(|| Err(unfinished(this.options, base.with_index(index), end)))
            })
            .collect();
        Poll::Ready(RaceEnd::Lost(outcomes))
    }
}

pub use crate::outcome::{race_caught, race_output, race_tried, race_tried_caught};
