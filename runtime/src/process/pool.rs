//! `pool_map!(f, items; processes)`: a pool of forked workers that maps a
//! function over items (Python's `ProcessPoolExecutor.map`).
//!
//! The items are collected in the parent, then the workers are forked: each
//! has all the items in its memory, so the parent only hands out ranges of
//! item indices (a 16-byte command), and a worker answers with one frame of
//! results per range. Neither the function nor the items cross a process
//! boundary; only the outputs do.
//!
//! Each worker also writes the index of the item it is running to a counter
//! in shared memory, so that when a worker dies the parent knows which item
//! killed it: that item fails, the others of its range run again in the
//! worker forked to replace it.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read as _, Write as _};
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::items::{ItemCursor, ItemSource};
use super::wire::{self, Message};
use super::{CHECK_EVERY, ProcessOutput};
use crate::error::{Error, ErrorKind, panic_message};
use crate::name::{self, WorkerName};
use crate::pool::PoolOptions;
use crate::report::{Report, Span};
use crate::sys::{self, ForkLock, SharedCounters, Status};

/// The command that tells a worker to exit.
const STOP: u64 = u64::MAX;
/// A worker's current-item counter between items.
const IDLE: u64 = u64::MAX;
/// Bytes of a command (`start`, `end`) and of a frame header (`start`, `end`,
/// payload length, count of bare outputs).
const COMMAND: usize = 16;
const HEADER: usize = 32;

/// Maps `f` over `items` in a pool of forked worker processes and returns the
/// outcome of every item, in input order (`pool_map!(f, items; processes, catch)`).
///
/// Item `k` runs as the worker `base-k`. Every item runs, even when others
/// fail. A worker killed by a signal or exiting mid-item is replaced; only the
/// item it was running fails (with the signal or exit code), and the other
/// items of its chunk that had not been sent back run again in the new worker.
/// With `options.timeout`, the items not finished at the deadline fail with a
/// timed-out error.
///
/// ```
/// use fanout::__private::{WorkerName, pool::PoolOptions, process};
///
/// let outcomes = process::map(&PoolOptions::new().workers(2), WorkerName::new("check"), 0..4, |x: u32| {
///     assert!(x != 2, "two is not allowed");
///     x * 10
/// });
/// assert_eq!(outcomes[1].as_ref().ok(), Some(&10));
/// let failure = outcomes[2].as_ref().unwrap_err();
/// assert_eq!(failure.panic_message(), Some("two is not allowed"));
/// assert_eq!(failure.worker(), "check-2");
/// ```
pub fn map<I, F, T>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<T, Error>>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T,
    T: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    run(options, base, items, &f, None)
}

/// Maps `f` over `items` in a pool of forked worker processes and returns
/// every output in input order (`pool_map!(f, items; processes)`).
///
/// # Panics
///
/// If an item failed (it panicked, its worker crashed, or it timed out): once
/// every item ended, the caller panics with a message naming each failed item
/// (`square-3`), its worker's pid and the cause.
///
/// ```
/// use fanout::__private::{WorkerName, pool::PoolOptions, process};
///
/// let squares = process::map_unwrap(&PoolOptions::new().workers(5), WorkerName::new("square"), 0..10, |x: u64| x * x);
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// ```
#[track_caller]
pub fn map_unwrap<I, F, T>(options: &PoolOptions, base: WorkerName, items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T,
    T: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    run_unwrap(options, base, items, &f)
}

/// Maps `f`, whose outputs are `Result<T, E>`, over `items` in a pool of
/// forked workers for the `try` option: once item `k` returned `Err`, no item
/// after `k` starts (their outcome is a cancelled error), while every item
/// before `k` still runs, so the lowest-index error is found whatever the
/// scheduling.
///
/// ```
/// use fanout::__private::{WorkerName, outcome, pool::PoolOptions, process};
///
/// let parsed = process::try_map(&PoolOptions::new(), WorkerName::new("parse"), ["1", "x", "3"], |s| {
///     s.parse::<i32>().map_err(|e| e.to_string())
/// });
/// assert_eq!(outcome::try_all(parsed), Err("invalid digit found in string".to_owned()));
/// ```
pub fn try_map<I, F, T, E>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<Result<T, E>, Error>>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Result<T, E>,
    T: ProcessOutput,
    E: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    run(options, base, items, &f, Some(Result::is_err))
}

/// The pool: forks the workers, hands out ranges, collects the outcomes.
///
/// `stops` is the `try` test: an output for which it is true stops the items
/// after it from starting.
pub(super) fn run<S, U, F>(
    options: &PoolOptions,
    base: WorkerName,
    items: S,
    f: &F,
    stops: Option<fn(&U) -> bool>,
) -> Vec<Result<U, Error>>
where
    S: ItemSource,
    F: Fn(S::Item) -> U,
    U: ProcessOutput,
{
    let mut outcomes = Outcomes(Vec::with_capacity(items.len()));
    run_with(options, base, items, f, stops, &mut outcomes);
    outcomes.0
}

/// [`run`] for [`map_unwrap`]: the outputs, or a panic listing the failures.
#[track_caller]
pub(super) fn run_unwrap<S, U, F>(
    options: &PoolOptions,
    base: WorkerName,
    items: S,
    f: &F,
) -> Vec<U>
where
    S: ItemSource,
    F: Fn(S::Item) -> U,
    U: ProcessOutput,
{
    let mut sink = Outputs {
        outputs: Vec::with_capacity(items.len()),
        failures: Vec::new(),
    };
    run_with(options, base, items, f, None, &mut sink);
    if !sink.failures.is_empty() {
        crate::outcome::raise(sink.failures);
    }
    sink.outputs
}

/// Receives every item's outcome, in input order.
trait Sink<U> {
    /// The next item's outcome.
    fn emit(&mut self, outcome: Result<U, Error>);
    /// The next item's output (the common case, without a `Result` to build).
    #[inline]
    fn output(&mut self, output: U) {
        self.emit(Ok(output));
    }

    /// The next items' outputs, taken from `next` until it returns `None`
    /// or `n` were taken; returns how many were.
    #[inline]
    fn outputs(&mut self, n: usize, mut next: impl FnMut() -> Option<U>) -> usize {
        let mut taken = 0;
        while taken < n {
            let Some(output) = next() else {
                break;
            };
            self.output(output);
            taken += 1;
        }
        taken
    }
}

/// Every outcome ([`run`]).
struct Outcomes<U>(Vec<Result<U, Error>>);

impl<U> Sink<U> for Outcomes<U> {
    #[inline]
    fn emit(&mut self, outcome: Result<U, Error>) {
        self.0.push(outcome);
    }
}

/// The outputs, and the failures aside ([`run_unwrap`]).
struct Outputs<U> {
    outputs: Vec<U>,
    failures: Vec<Option<Error>>,
}

impl<U> Sink<U> for Outputs<U> {
    #[inline]
    fn emit(&mut self, outcome: Result<U, Error>) {
        match outcome {
            Ok(output) => self.outputs.push(output),
            Err(failure) => self.failures.push(Some(failure)),
        }
    }

    #[inline]
    fn output(&mut self, output: U) {
        self.outputs.push(output);
    }

    #[inline]
    fn outputs(&mut self, n: usize, next: impl FnMut() -> Option<U>) -> usize {
        let before = self.outputs.len();
        self.outputs.reserve(n);
        self.outputs.extend(std::iter::from_fn(next).take(n));
        self.outputs.len() - before
    }
}

/// Runs the pool and hands every item's outcome to `emit`, in input order.
fn run_with<S, U, F, E>(
    options: &PoolOptions,
    base: WorkerName,
    items: S,
    f: &F,
    stops: Option<fn(&U) -> bool>,
    emit: &mut E,
) where
    S: ItemSource,
    E: Sink<U>,
    F: Fn(S::Item) -> U,
    U: ProcessOutput,
{
    let len = items.len();
    let mut items = Some(items);
    if len == 0 {
        return;
    }
    let workers = options.worker_count().min(len);
    let report = Report::new(options.timeline, options.progress);
    report.expect(len);
    let counters = match SharedCounters::new(workers + 1, IDLE) {
        Ok(counters) => counters,
        Err(error) => {
            let why = format!("no shared memory for the pool: {error}");
            (0..len)
                .map(|k| {
                    Err(Error::new(
                        base.with_index(k),
                        ErrorKind::Spawn(why.clone()),
                    ))
                })
                .for_each(|failure| emit.emit(failure));
            return;
        }
    };
    let mut pool = Pool {
        base,
        len,
        chunk: options.chunk_for(len),
        next: 0,
        emitted: 0,
        waiting: BTreeMap::new(),
        spare: Vec::new(),
        emit,
        slots: (0..workers).map(|_| Slot::default()).collect(),
        counters,
        deadline: options
            .timeout
            .map(|limit| (report.origin() + limit, limit)),
        timed_out: None,
        stops,
        report: &report,
        items: &mut items,
        f,
    };
    for slot in 0..workers {
        pool.start(slot);
    }
    pool.drive();
    pool.finish();
    report.finish("pool_map!");
}

struct Pool<'a, S, U, F, E: ?Sized> {
    base: WorkerName,
    len: usize,
    chunk: usize,
    /// The first item not handed out yet.
    next: usize,
    /// The first item whose outcome was not emitted yet.
    emitted: usize,
    /// Outcomes received ahead of their turn, by first item: answers
    /// (decoded when their turn comes), and items that failed without one.
    waiting: BTreeMap<usize, Waiting>,
    /// Emptied answer buffers, to be filled again.
    spare: Vec<Vec<u8>>,
    /// Receives every item's outcome, in input order.
    emit: &'a mut E,
    slots: Vec<Slot>,
    /// `[first failed item (try), current item of worker 0, of worker 1, ...]`.
    counters: SharedCounters,
    deadline: Option<(Instant, Duration)>,
    timed_out: Option<Duration>,
    stops: Option<fn(&U) -> bool>,
    report: &'a Report,
    /// The items, taken by each child (the parent's copy stays whole, for
    /// the workers forked later).
    items: &'a mut Option<S>,
    f: &'a F,
}

/// An outcome received before its turn.
enum Waiting {
    /// The answer of worker `pid` for `range`: a header, the bare outputs of
    /// the first `bare` items, then one message per item.
    Answer {
        range: Range<usize>,
        bare: usize,
        pid: u32,
        bytes: Vec<u8>,
    },
    /// An item whose worker died while running it.
    Failed(Error),
}

/// One worker process (or the place for one).
#[derive(Default)]
struct Slot {
    pid: u32,
    /// The parent's end of the worker's socket (non-blocking), while it lives.
    channel: Option<UnixStream>,
    /// Received bytes of the answer in progress.
    buf: Vec<u8>,
    /// The ranges handed out and not answered yet, and when they were handed out.
    running: VecDeque<(Range<usize>, Instant)>,
    /// Ranges this slot's next worker must run first (after a crash).
    retry: VecDeque<Range<usize>>,
    /// Told to exit.
    stopping: bool,
}

/// How many ranges a worker may have been handed out at once: the next one
/// waits in its socket while it runs the current one, so it never waits for
/// the parent.
const AHEAD: usize = 2;

impl<S, U, F, E> Pool<'_, S, U, F, E>
where
    S: ItemSource,
    U: ProcessOutput,
    F: Fn(S::Item) -> U,
    E: Sink<U>,
{
    /// The shared counter in which worker `slot` notes its current item.
    fn current(&self, slot: usize) -> &AtomicU64 {
        &self.counters.get()[1 + slot]
    }

    /// The first item that returned an error (`try`), or `u64::MAX`.
    fn first_failure(&self) -> u64 {
        match self.stops {
            Some(_) => self.counters.get()[0].load(Ordering::Acquire),
            None => u64::MAX,
        }
    }

    /// Whether items not handed out yet may still start.
    fn more_to_hand_out(&self) -> bool {
        self.next < self.len
            && (self.next as u64) <= self.first_failure()
            && self.timed_out.is_none()
    }

    /// Forks a worker into `slot` and gives it work; if it cannot be forked,
    /// the work meant for it fails.
    fn start(&mut self, slot: usize) {
        match self.fork(slot) {
            Ok(()) => {
                for _ in 0..AHEAD {
                    self.hand_out(slot);
                }
            }
            Err(error) => {
                let why = error.to_string();
                let mut failed: Vec<Range<usize>> = self.slots[slot].retry.drain(..).collect();
                if self.slots.iter().all(|s| s.channel.is_none()) {
                    // No worker at all: nothing else will run the rest.
                    failed.push(self.next..self.len);
                    self.next = self.len;
                }
                for k in failed.into_iter().flatten() {
                    let failure =
                        Error::new(self.base.with_index(k), ErrorKind::Spawn(why.clone()));
                    self.fail(k, failure);
                }
            }
        }
    }

    fn fork(&mut self, slot: usize) -> io::Result<()> {
        let lock = ForkLock::acquire();
        let (parent_end, child_end) = sys::socket_pair()?;
        self.current(slot).store(IDLE, Ordering::Release);
        let mut parent_end = Some(parent_end);
        let worker = Worker {
            base: self.base,
            counters: self.counters.get(),
            slot,
            stops: self.stops,
        };
        let (slots, items, f) = (&mut self.slots, &mut *self.items, self.f);
        // The closure only borrows: nothing to drop with care in the parent.
        let (pid, _) = lock.fork(child_end, |child_end| {
            // The parent's ends of every worker's socket, this one's included:
            // a worker must see the end of its commands when the parent is gone.
            drop(parent_end.take());
            for other in slots.iter_mut() {
                drop(other.channel.take());
            }
            match items.take() {
                Some(items) => worker.run(items.cursor(), f, child_end),
                None => 0,
            }
        });
        let pid = pid?;
        let channel = UnixStream::from(
            parent_end
                .take()
                .ok_or_else(|| io::Error::other("lost socket"))?,
        );
        let slot = &mut self.slots[slot];
        slot.pid = pid;
        slot.buf.clear();
        slot.running.clear();
        slot.stopping = false;
        if let Err(error) = channel.set_nonblocking(true) {
            // Cannot happen on a fresh socket; without it the pool could block.
            sys::kill(pid);
            sys::wait(pid, true);
            return Err(error);
        }
        slot.channel = Some(channel);
        Ok(())
    }

    /// Sends the worker in `slot` its next range, or tells it to exit once it
    /// has nothing left to run.
    fn hand_out(&mut self, slot: usize) {
        if self.slots[slot].stopping || self.slots[slot].channel.is_none() {
            return;
        }
        let range = match self.slots[slot].retry.pop_front() {
            Some(range) => Some(range),
            None if self.more_to_hand_out() => {
                let start = self.next;
                self.next = (start + self.chunk).min(self.len);
                Some(start..self.next)
            }
            None => None,
        };
        let slot = &mut self.slots[slot];
        let mut command = [0u8; COMMAND];
        match range {
            Some(range) => {
                command[..8].copy_from_slice(&(range.start as u64).to_le_bytes());
                command[8..].copy_from_slice(&(range.end as u64).to_le_bytes());
                slot.running.push_back((range, Instant::now()));
            }
            // Nothing left: the worker exits once it answered for the
            // ranges it has (it reads its commands in order).
            None => {
                command[..8].copy_from_slice(&STOP.to_le_bytes());
                slot.stopping = true;
            }
        }
        if let Some(channel) = &slot.channel {
            // If the worker is gone, the end of its socket comes next and says so.
            let _ = sys::send_all(channel.as_fd(), &command);
        }
    }

    /// Reads the workers' answers until every worker exited (or the deadline).
    fn drive(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut polled: Vec<usize> = Vec::new();
        let mut ended: Vec<(usize, Status)> = Vec::new();
        loop {
            fds.clear();
            polled.clear();
            for (index, slot) in self.slots.iter().enumerate() {
                if let Some(channel) = &slot.channel {
                    fds.push(libc::pollfd {
                        fd: channel.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    polled.push(index);
                }
            }
            if polled.is_empty() {
                return;
            }
            let now = Instant::now();
            let wait = match self.deadline {
                Some((deadline, limit)) if now >= deadline => {
                    self.time_out(limit);
                    return;
                }
                Some((deadline, _)) => CHECK_EVERY.min(deadline - now),
                None => CHECK_EVERY,
            };
            let ready = sys::poll(&mut fds, Some(wait)).unwrap_or_else(|_| {
                std::thread::sleep(Duration::from_millis(1));
                0
            });
            if ready == 0 {
                // Nothing to read: did a worker end without its socket
                // closing (a copy of its end lives in another process)?
                for &slot in &polled {
                    if let Some(status) = sys::wait(self.slots[slot].pid, false) {
                        self.read(slot);
                        ended.push((slot, status));
                    }
                }
            } else {
                for (fd, &slot) in fds.iter().zip(&polled) {
                    if fd.revents != 0 && self.read(slot) {
                        // The end of the socket: the worker is exiting.
                        let status = sys::wait(self.slots[slot].pid, true).unwrap_or(Status::Lost);
                        ended.push((slot, status));
                    }
                }
            }
            for (slot, status) in ended.drain(..) {
                self.ended(slot, status);
            }
        }
    }

    /// Reads what the worker in `slot` sent and keeps its whole answers;
    /// returns whether its socket reached its end.
    fn read(&mut self, slot: usize) -> bool {
        let Slot { channel, buf, .. } = &mut self.slots[slot];
        let Some(channel) = channel else {
            return true;
        };
        let at_end = loop {
            match channel.read_to_end(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Ok(_) | Err(_) => break true,
            }
        };
        while let Some((range, payload, bare)) = frame_at(&self.slots[slot].buf) {
            let capacity = self.slots[slot].buf.capacity();
            let fresh = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(capacity));
            let buf = &mut self.slots[slot].buf;
            let mut bytes = std::mem::replace(buf, fresh);
            // The start of the next answer, if it arrived too.
            buf.extend_from_slice(&bytes[HEADER + payload..]);
            bytes.truncate(HEADER + payload);
            self.answered(slot, range, bare, bytes);
        }
        if at_end {
            self.slots[slot].channel = None;
        }
        at_end
    }

    /// The worker in `slot` answered for `range`.
    fn answered(&mut self, slot: usize, range: Range<usize>, bare: usize, bytes: Vec<u8>) {
        let pid = self.slots[slot].pid;
        let handed_out = match self.slots[slot].running.front() {
            Some((running, at)) if *running == range => {
                let at = *at;
                self.slots[slot].running.pop_front();
                at
            }
            _ => Instant::now(),
        };
        // Keep the worker busy first; decoding waits until the end.
        self.hand_out(slot);
        self.report.advance(range.end - range.start);
        if self.report.timeline_enabled() {
            let origin = self.report.origin();
            self.report.record(Span {
                name: self.base.with_index(range.start),
                start: handed_out.saturating_duration_since(origin),
                end: origin.elapsed(),
                place: format!("pid {pid}"),
            });
        }
        self.waiting.insert(
            range.start,
            Waiting::Answer {
                range,
                bare,
                pid,
                bytes,
            },
        );
        self.emit_ready();
    }

    /// Item `k` failed without an answer from its worker.
    fn fail(&mut self, k: usize, failure: Error) {
        self.report.advance(1);
        self.waiting.insert(k, Waiting::Failed(failure));
        self.emit_ready();
    }

    /// Emits the outcomes whose turn came, decoding the answers.
    fn emit_ready(&mut self) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > self.emitted {
                return;
            }
            let (start, waiting) = entry.remove_entry();
            self.emit_waiting(start, waiting);
        }
    }

    /// Emits one waiting outcome (or what is left of it after `emitted`).
    fn emit_waiting(&mut self, start: usize, waiting: Waiting) {
        match waiting {
            Waiting::Answer {
                range,
                bare,
                pid,
                bytes,
            } => {
                let payload = &bytes[HEADER..];
                let bare_end = range.start + bare.min(range.end - range.start);
                let mut k = range.start;
                let mut rest = Some(payload);
                if k == self.emitted {
                    // The items that succeeded, in one tight loop.
                    if wire::is_u64::<U>() {
                        let mut at = 0;
                        k += self
                            .emit
                            .outputs(bare_end - k, || wire::take_u64::<U>(payload, &mut at));
                        rest = (k == bare_end).then(|| &payload[at..]);
                    } else {
                        let mut reader = wire::Reader::new(payload);
                        k += self.emit.outputs(bare_end - k, || reader.output::<U>());
                        rest = if k < bare_end { None } else { reader.rest() };
                    }
                    self.emitted = k;
                }
                let mut reader = rest.map(wire::Reader::new);
                for k in k..range.end {
                    let message = match &mut reader {
                        Some(reader) if k < bare_end => reader.output::<U>().map(Message::Output),
                        Some(reader) => reader.next::<U>(),
                        None => None,
                    };
                    let outcome = match message {
                        Some(Message::Output(output)) => Ok(output),
                        Some(Message::Failed(kind)) => {
                            Err(Error::new(self.base.with_index(k), kind).with_pid(pid))
                        }
                        Some(Message::Skipped) => {
                            Err(Error::new(self.base.with_index(k), ErrorKind::Cancelled))
                        }
                        None => {
                            // The rest of the answer is unreadable.
                            reader = None;
                            let why = "its output could not be read back".to_owned();
                            let kind = ErrorKind::Transport(why);
                            Err(Error::new(self.base.with_index(k), kind).with_pid(pid))
                        }
                    };
                    // An item emitted already (cannot happen) is skipped.
                    if k == self.emitted {
                        self.emit.emit(outcome);
                        self.emitted += 1;
                    }
                }
                let mut bytes = bytes;
                bytes.clear();
                self.spare.push(bytes);
            }
            Waiting::Failed(failure) => {
                if start == self.emitted {
                    self.emit.emit(Err(failure));
                    self.emitted += 1;
                }
            }
        }
    }

    /// The worker in `slot` ended with `status`: fails the item it was
    /// running, and forks its replacement if there is work left.
    fn ended(&mut self, slot: usize, status: Status) {
        let pid = self.slots[slot].pid;
        self.slots[slot].channel = None;
        self.slots[slot].buf.clear();
        let running: Vec<Range<usize>> = self.slots[slot]
            .running
            .drain(..)
            .map(|(range, _)| range)
            .collect();
        let mut again = Vec::new();
        let current = self.current(slot).load(Ordering::Acquire);
        for range in running {
            match usize::try_from(current) {
                Ok(k) if current != IDLE && range.contains(&k) => {
                    let failure =
                        Error::new(self.base.with_index(k), wire::cause(status)).with_pid(pid);
                    self.fail(k, failure);
                    again.extend([range.start..k, k + 1..range.end]);
                }
                _ => again.push(range),
            }
        }
        let retry = &mut self.slots[slot].retry;
        for range in again.into_iter().rev().filter(|r| !r.is_empty()) {
            retry.push_front(range);
        }
        if (!self.slots[slot].retry.is_empty() || self.more_to_hand_out())
            && self.timed_out.is_none()
        {
            self.start(slot);
        }
    }

    /// The deadline passed: kills and reaps every worker.
    fn time_out(&mut self, limit: Duration) {
        self.timed_out = Some(limit);
        for slot in &self.slots {
            if slot.channel.is_some() {
                sys::kill(slot.pid);
            }
        }
        for slot in 0..self.slots.len() {
            if self.slots[slot].channel.is_some() {
                sys::wait(self.slots[slot].pid, true);
                // Whole answers that arrived before the kill still count.
                self.read(slot);
                self.slots[slot].channel = None;
            }
        }
    }

    /// Emits the outcomes of the items that never answered: they failed by
    /// the deadline or were cancelled by an earlier error (`try`).
    fn finish(mut self) {
        self.emit_ready();
        let first_failure = self.first_failure();
        let mut running: Vec<(Range<usize>, u32)> = Vec::new();
        for slot in &self.slots {
            running.extend(
                slot.running
                    .iter()
                    .map(|(range, _)| (range.clone(), slot.pid)),
            );
        }
        while self.emitted < self.len {
            let k = self.emitted;
            if self
                .waiting
                .first_key_value()
                .is_some_and(|(&start, _)| start <= k)
            {
                self.emit_ready();
                continue;
            }
            let name = self.base.with_index(k);
            let failure = match self.timed_out {
                Some(limit) => Error::new(name, ErrorKind::Timeout(limit)),
                None if k as u64 > first_failure => Error::new(name, ErrorKind::Cancelled),
                None => Error::new(
                    name,
                    ErrorKind::Transport("the pool lost this item".to_owned()),
                ),
            };
            let failure = match running.iter().find(|(range, _)| range.contains(&k)) {
                Some((_, pid)) => failure.with_pid(*pid),
                None => failure,
            };
            self.emit.emit(Err(failure));
            self.emitted += 1;
        }
    }
}

impl<S, U, F, E: ?Sized> Drop for Pool<'_, S, U, F, E> {
    /// No worker outlives the pool, also if decoding an output panicked.
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if slot.channel.take().is_some() {
                sys::kill(slot.pid);
                sys::wait(slot.pid, true);
            }
        }
    }
}

/// The answer at the front of `bytes`, if it arrived whole: its range, the
/// length of its payload and the count of bare outputs at its start.
fn frame_at(bytes: &[u8]) -> Option<(Range<usize>, usize, usize)> {
    let header = bytes.get(..HEADER)?;
    let word = |k: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&header[8 * k..8 * k + 8]);
        usize::try_from(u64::from_le_bytes(raw)).unwrap_or(usize::MAX)
    };
    let (start, end, payload, bare) = (word(0), word(1), word(2), word(3));
    (bytes.len() - HEADER >= payload).then_some((start..end, payload, bare))
}

/// The worker's side of the pool.
struct Worker<'a, U> {
    base: WorkerName,
    counters: &'a [AtomicU64],
    slot: usize,
    stops: Option<fn(&U) -> bool>,
}

impl<U: ProcessOutput> Worker<'_, U> {
    /// Runs the ranges the parent sends until told to stop; returns the exit code.
    fn run<C, F>(self, mut items: C, f: &F, channel: OwnedFd) -> i32
    where
        C: ItemCursor,
        F: Fn(C::Item) -> U,
    {
        let first_failure = &self.counters[0];
        let current = &self.counters[1 + self.slot];
        // Never closed: the end of the socket tells the parent that the
        // worker is exiting (at `_exit`), and may be reaped without waiting long.
        let mut channel = ManuallyDrop::new(UnixStream::from(channel));
        let mut frame = Vec::new();
        loop {
            let mut command = [0u8; COMMAND];
            if channel.read_exact(&mut command).is_err() {
                return 0;
            }
            let word = |k: usize| {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&command[8 * k..8 * k + 8]);
                u64::from_le_bytes(raw)
            };
            if word(0) == STOP {
                return 0;
            }
            let (Ok(start), Ok(end)) = (usize::try_from(word(0)), usize::try_from(word(1))) else {
                return 0;
            };
            frame.clear();
            // At least a tag and a byte per item: fewer copies as it grows.
            frame.reserve(HEADER + 2 * end.saturating_sub(start));
            frame.extend_from_slice(&command);
            frame.extend_from_slice(&[0; 16]);
            // The outputs go bare (no tag) until the first item that did not
            // return one; from there on, one message per item.
            let mut bare: Option<usize> = None;
            // Whether the outputs serialize as `u64`s (told by the first).
            let mut as_u64 = true;
            let _chunk = name::enter(self.base);
            for k in start..end {
                let Some(item) = items.take(k) else {
                    bare.get_or_insert(k - start);
                    let why = "the pool handed out an item twice (a bug in fanout)";
                    wire::put_text(&mut frame, wire::UNSENDABLE, why);
                    continue;
                };
                if self.stops.is_some() && k as u64 > first_failure.load(Ordering::Relaxed) {
                    std::mem::forget(item);
                    bare.get_or_insert(k - start);
                    frame.push(wire::SKIPPED);
                    continue;
                }
                current.store(k as u64, Ordering::Release);
                // `_chunk` set the base; each item sets only its index (one
                // store), and `_chunk` restores the name the worker had.
                name::set_current_index(k);
                match catch_unwind(AssertUnwindSafe(|| f(item))) {
                    Ok(output) => {
                        if let Some(stops) = self.stops
                            && stops(&output)
                        {
                            first_failure.fetch_min(k as u64, Ordering::AcqRel);
                        }
                        if bare.is_some() {
                            wire::put_output(&mut frame, &output);
                        } else if !(as_u64 && wire::put_u64(&mut frame, &output)) {
                            as_u64 = false;
                            if let Err(why) = wire::put_bare(&mut frame, &output) {
                                bare = Some(k - start);
                                wire::put_text(&mut frame, wire::UNSENDABLE, &why);
                            }
                        }
                    }
                    Err(payload) => {
                        bare.get_or_insert(k - start);
                        wire::put_text(&mut frame, wire::PANIC, &panic_message(&*payload));
                        std::mem::forget(payload);
                    }
                }
            }
            current.store(IDLE, Ordering::Release);
            let payload = (frame.len() - HEADER) as u64;
            let bare = bare.unwrap_or(end - start) as u64;
            frame[COMMAND..COMMAND + 8].copy_from_slice(&payload.to_le_bytes());
            frame[COMMAND + 8..HEADER].copy_from_slice(&bare.to_le_bytes());
            if channel.write_all(&frame).is_err() {
                return 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializes, except for odd values above 10.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Picky(u64);

    impl serde::Serialize for Picky {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if self.0 > 10 && self.0 % 2 == 1 {
                Err(serde::ser::Error::custom("odd"))
            } else {
                s.serialize_newtype_struct("Picky", &self.0)
            }
        }
    }

    #[test]
    fn a_chunk_with_failures_keeps_its_other_outputs() {
        let options = PoolOptions::new().workers(2).chunksize(8);
        let outcomes = map(&options, WorkerName::new("picky"), 0..20u64, |x| {
            assert!(x != 3 && x != 17, "no {x}");
            Picky(x * 100 / 100 + u64::from(x == 12))
        });
        for (k, outcome) in outcomes.iter().enumerate() {
            let k = k as u64;
            match outcome {
                Ok(Picky(v)) => assert_eq!(*v, k + u64::from(k == 12)),
                Err(failure) => {
                    let kind = failure.kind();
                    if k == 3 || k == 17 {
                        assert!(matches!(kind, ErrorKind::Panic(_)), "{k}: {failure}");
                    } else {
                        assert!(k > 10 && (k % 2 == 1 || k == 12), "{k}: {failure}");
                        assert!(matches!(kind, ErrorKind::Transport(_)), "{k}: {failure}");
                    }
                }
            }
        }
        assert!(outcomes[2].is_ok() && outcomes[4].is_ok() && outcomes[10].is_ok());
    }
}
