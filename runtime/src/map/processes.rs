//! The process executor: the items of a map in a pool of forked worker
//! processes (what `pool_map!(f, items; processes)` runs on; Python's
//! `ProcessPoolExecutor.map`).
//!
//! The items stay in the caller and the workers are forked: each has the
//! items in its copy of the caller's memory, so the parent only hands out
//! ranges of item indices (a 16-byte command on the worker's socket). A worker
//! answers for each item as it ends, by writing a frame (its outcome, framed
//! on its own) into a ring in memory shared with the parent: the answer is
//! out of the worker's memory before the next item starts, without a system
//! call per item (the worker writes one byte on its socket only when the
//! parent sleeps). When a worker dies, the parent takes every frame it
//! published, fails the item it was running, and gives the rest of its work to
//! a worker forked to replace it: no item runs twice.
//!
//! What comes out of a worker is untrusted input (its task may write to the
//! ring or the socket): frames are taken in order for the items handed out to
//! that worker and nothing else, each is decoded from its own bytes only, and
//! a malformed frame fails the item it stands for, after which the worker is
//! killed and replaced.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::ops::Range;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::MapOptions;
use super::mode::Mode;
use super::plan::{Plan, Stop};
use super::sink::{ChunkSink, Collect};
use super::task::{Plain, WithInit, WorkerTask};
use crate::codec;
use crate::error::{Error, ErrorKind, panic_message};
use crate::name::{self, WorkerName};
use crate::process::{ItemCursor, ItemSource, ProcessOutput};
use crate::report::{Report, Span};
use crate::sys::ring::{Published, Ring};
use crate::sys::{self, ForkGroup, Forks, SharedCounters, Status};

/// Bytes of each worker's ring.
const RING: usize = 1 << 20;
/// How long the parent sleeps at most between checks of its workers while
/// answers keep coming: it then takes them without being woken for each.
const CHECK_EVERY: Duration = Duration::from_millis(1);
/// After this many checks in a row found nothing, the parent asks to be
/// woken by the next answer and sleeps up to [`IDLE_WAIT`].
const IDLE_CHECKS: u32 = 8;
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// How long a worker told to stop (its socket closed) has to exit before it
/// is killed.
const GRACE: Duration = Duration::from_millis(200);

/// A frame: `[tag][payload length: u64 LE][payload]`, or a [`NUMBER`].
const FRAME_HEADER: usize = 9;
/// The item returned; its encoded output follows.
const OUTPUT: u8 = 0;
/// The item panicked (or its output's `Serialize` did); the message follows.
const PANIC: u8 = 1;
/// The output could not be encoded; the reason follows.
const UNENCODABLE: u8 = 2;
/// The item did not start: the map had stopped.
const SKIPPED: u8 = 3;
/// The worker's `init` panicked; the message follows.
const INIT_FAILED: u8 = 4;
/// The item returned a number or a bool: the frame is the tag and the
/// output's [`codec::bits`] (u64 LE), nothing more.
const NUMBER: u8 = 5;

/// Maps `f` over `items` in a pool of forked worker processes; the outputs
/// come back in input order, shaped by `mode` (see [`on_threads`]). Item
/// `k` runs as the worker `name-k`; the outputs must be serializable
/// ([`ProcessOutput`]), the items and `f` need not be anything.
///
/// [`on_threads`]: super::on_threads
///
/// ```
/// use fanout::map::{self, Catch, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2);
/// let squares = map::on_processes(&options, Unwrap, WorkerName::new("square"), 0..4u64, |x| x * x);
/// assert_eq!(squares, [0, 1, 4, 9]);
///
/// let pids = map::on_processes(&options, Catch, WorkerName::new("pid"), 0..2, |_: u32| std::process::id());
/// assert!(pids.iter().all(|pid| *pid.as_ref().unwrap() != std::process::id()));
/// ```
///
/// # Panics
/// With [`Unwrap`](super::Unwrap) and [`Try`](super::Try), if an item
/// failed (it panicked, its worker died, it timed out): once the running
/// items ended, with the failure of the lowest index.
#[track_caller]
pub fn on_processes<M, I, F, U>(
    options: &MapOptions,
    mode: M,
    name: WorkerName,
    items: I,
    f: F,
) -> M::Output
where
    M: Mode<U>,
    I: IntoIterator,
    F: Fn(I::Item) -> U,
    U: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    on_processes_source(options, mode, name, items, &Plain(f))
}

/// [`on_processes`] with a state built once per worker process by `init`
/// (`pool_map!(f, items; processes, init = || state)`, Python's
/// `initializer=`): `f` takes `(&mut state, item)`. An `init` that panics
/// fails every item of its worker with an [`ErrorKind::Init`] error. With
/// [`MapOptions::recycle`], each fresh worker builds its own.
///
/// ```
/// use fanout::map::{self, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let options = MapOptions::new().workers(2);
/// let pids = map::on_processes_with_init(&options, Unwrap, WorkerName::new("pid"), 0..4, std::process::id, |pid: &mut u32, _: u32| *pid);
/// assert!(pids.iter().all(|pid| *pid != std::process::id()));
/// ```
///
/// # Panics
/// As [`on_processes`].
#[track_caller]
pub fn on_processes_with_init<M, I, G, S, F, U>(
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
    G: Fn() -> S,
    F: Fn(&mut S, I::Item) -> U,
    U: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    on_processes_source(options, mode, name, items, &WithInit { init, f })
}

/// [`on_processes`] of items the workers take by index from their copy.
#[track_caller]
pub(crate) fn on_processes_source<M, S, F, U>(
    options: &MapOptions,
    _mode: M,
    name: WorkerName,
    items: S,
    f: &F,
) -> M::Output
where
    M: Mode<U>,
    S: ItemSource,
    F: WorkerTask<S::Item, Output = U>,
    U: ProcessOutput,
{
    let len = items.len();
    let report = Report::new(options.timeline_enabled(), options.progress_enabled());
    let plan = Plan::starting(options, name, len, report.origin());
    let mut collect = Collect::<M, U>::new(len);
    collect.before_forks();
    if len > 0 {
        report.expect(len);
        let mut items = Some(items);
        let mut pool = Pool {
            plan: &plan,
            collect: &collect,
            report: &report,
            items: &mut items,
            f,
            stop: SharedCounters::new(1, 0).ok(),
            group: ForkGroup::probe(),
            slots: (0..plan.workers)
                .map(|_| WorkerProcess::default())
                .collect(),
            retry: VecDeque::new(),
            polled: Vec::new(),
            idle: 0,
            recycle: options.recycle_option(),
        };
        pool.drive();
        drop(pool);
        report.finish("pool_map!(...; processes)");
    }
    collect.finish(&plan)
}

struct Pool<'a, M: Mode<U>, U, S, F> {
    plan: &'a Plan,
    collect: &'a Collect<M, U>,
    report: &'a Report,
    /// The items; each worker takes its own copy (the parent's stays whole,
    /// for the workers forked later).
    items: &'a mut Option<S>,
    f: &'a F,
    /// Shared with every worker: set once the map stopped, so that workers
    /// start no new item. `None` if it could not be mapped (then no worker
    /// can be started either).
    stop: Option<SharedCounters>,
    /// How this pool's forks treat the std stdio locks, probed once.
    group: ForkGroup,
    slots: Vec<WorkerProcess<'a, M, U>>,
    /// Runs whose worker died, for the next worker that takes work.
    retry: VecDeque<ChunkSink<'a, M, U>>,
    /// Reused by `wait`.
    polled: Vec<(libc::pollfd, usize)>,
    /// How many checks in a row found no answer.
    idle: u32,
    /// `recycle = N`: a worker exits after N items and a fresh one takes over.
    recycle: Option<usize>,
}

/// One worker process, or the place for one.
struct WorkerProcess<'a, M: Mode<U>, U> {
    pid: u32,
    /// The parent's end of the worker's socket, while the worker lives.
    channel: Option<UnixStream>,
    ring: Option<Ring>,
    /// What the parent took from the ring so far.
    read: u64,
    /// Bytes taken from the ring and not parsed yet (from `parsed`).
    pending: Vec<u8>,
    parsed: usize,
    /// The runs handed out to this worker and not answered, in order.
    runs: VecDeque<ChunkSink<'a, M, U>>,
    /// When the worker's current item started, as the parent saw it.
    since: Option<Instant>,
    /// The worker could not be started: the slot takes no more work.
    dead: bool,
    /// How many items were handed out to this worker (for `recycle`).
    given: usize,
}

impl<M: Mode<U>, U> Default for WorkerProcess<'_, M, U> {
    fn default() -> Self {
        WorkerProcess {
            pid: 0,
            channel: None,
            ring: None,
            read: 0,
            pending: Vec::new(),
            parsed: 0,
            runs: VecDeque::new(),
            since: None,
            dead: false,
            given: 0,
        }
    }
}

/// How many runs a worker may hold at once: the next waits in its socket
/// while it runs the current one.
const AHEAD: usize = 2;

impl<'a, M, U, S, F> Pool<'a, M, U, S, F>
where
    M: Mode<U>,
    U: ProcessOutput,
    S: ItemSource,
    F: WorkerTask<S::Item, Output = U>,
{
    fn drive(&mut self) {
        // Every allowed worker starts with one run, then gets a second.
        for slot in 0..self.slots.len() {
            if self.has_work() {
                self.start(slot);
            }
        }
        for _ in 1..AHEAD {
            for slot in 0..self.slots.len() {
                if self.slots[slot].channel.is_some() {
                    self.hand_out(slot);
                }
            }
        }
        loop {
            if self.deadline_passed() {
                self.time_out();
                break;
            }
            if self.plan.stopped().is_some() {
                self.signal_stop();
                // Runs nobody started stay unanswered: the plan's end
                // decides them.
                self.retry.clear();
            }
            let mut progressed = false;
            for slot in 0..self.slots.len() {
                progressed |= self.take_answers(slot);
            }
            if self.slots.iter().all(|s| s.runs.is_empty()) && !self.has_work() {
                break;
            }
            if progressed {
                self.idle = 0;
            } else {
                self.wait();
            }
        }
        self.stop_all();
    }

    /// Whether items remain to be handed out.
    fn has_work(&self) -> bool {
        !self.retry.is_empty() || (self.plan.stopped().is_none() && self.collect.has_unclaimed())
    }
}

impl<'a, M, U, S, F> Pool<'a, M, U, S, F>
where
    M: Mode<U>,
    U: ProcessOutput,
    S: ItemSource,
    F: WorkerTask<S::Item, Output = U>,
{
    /// Forks a worker into `slot` and gives it its first run; if it cannot
    /// be forked, the run it would have taken fails.
    fn start(&mut self, slot: usize) {
        match self.fork(slot) {
            Ok(()) => {
                self.hand_out(slot);
            }
            Err(error) => {
                let why = error.to_string();
                self.slots[slot].dead = true;
                let alive = self.slots.iter().any(|s| s.channel.is_some());
                let mut failed: Vec<ChunkSink<'a, M, U>> = self.retry.drain(..).collect();
                if alive {
                    failed.extend(self.claim());
                } else {
                    // No worker at all: nothing else will run the rest.
                    failed.extend(std::iter::from_fn(|| self.collect.claim(usize::MAX)));
                }
                for mut run in failed {
                    while !run.is_done() {
                        let name = self.plan.base.with_index(run.index());
                        let failure = Error::new(name, ErrorKind::Spawn(why.clone()));
                        self.report.advance(1);
                        if run.put(Err(failure)) {
                            self.plan.stop(Stop::Failed);
                        }
                    }
                }
            }
        }
    }

    /// The next run to hand out: one that lost its worker, or new items;
    /// at most `budget` items.
    fn claim_at_most(&mut self, budget: usize) -> Option<ChunkSink<'a, M, U>> {
        if let Some(run) = self.retry.front() {
            if run.end() - run.index() > budget {
                return None;
            }
            return self.retry.pop_front();
        }
        if !self.plan.may_start() {
            return None;
        }
        self.collect.claim(self.plan.chunk.min(budget))
    }

    /// The next run to hand out, for a worker without a budget.
    fn claim(&mut self) -> Option<ChunkSink<'a, M, U>> {
        self.claim_at_most(usize::MAX)
    }

    /// Gives the worker in `slot` one more run, if there is work left. With
    /// `recycle = N`, a worker gets N items in all; one that has run out of
    /// them exits by itself once it answered them.
    fn hand_out(&mut self, slot: usize) {
        if self.slots[slot].runs.len() >= AHEAD {
            return;
        }
        let budget = match self.recycle {
            Some(limit) => limit.saturating_sub(self.slots[slot].given),
            None => usize::MAX,
        };
        if budget == 0 {
            return;
        }
        let Some(run) = self.claim_at_most(budget) else {
            if budget != usize::MAX && self.slots[slot].runs.is_empty() && !self.retry.is_empty() {
                // A run that lost its worker is larger than what this worker
                // has left: it goes to a fresh one.
                self.ended(slot, Some("recycled"));
            }
            return;
        };
        self.slots[slot].given += run.end() - run.index();
        let range = run.index()..run.end();
        let mut command = [0u8; 16];
        command[..8].copy_from_slice(&(range.start as u64).to_le_bytes());
        command[8..].copy_from_slice(&(range.end as u64).to_le_bytes());
        let sent = match &self.slots[slot].channel {
            Some(channel) => sys::send_all(std::os::fd::AsFd::as_fd(channel), &command),
            None => Err(io::Error::other("no worker")),
        };
        let state = &mut self.slots[slot];
        if state.runs.is_empty() {
            state.since = Some(Instant::now());
        }
        // If the command could not be sent, the worker is gone: the run
        // waits in the slot and goes to its replacement when its end is seen.
        let _ = sent;
        state.runs.push_back(run);
    }

    fn fork(&mut self, slot: usize) -> io::Result<()> {
        let Some(stop) = &self.stop else {
            return Err(io::Error::other("no shared memory for the pool"));
        };
        let ring = Ring::new(RING)?;
        let mut forks = Forks::new(self.group);
        forks.hold();
        let (parent_end, child_end) = sys::socket_pair()?;
        let stop = &stop.get()[0];
        let mut parent_end = Some(parent_end);
        let base = &self.plan.base;
        let (slots, items, f) = (&mut self.slots, &mut *self.items, self.f);
        let recycle = self.recycle;
        let ring_ref = &ring;
        // The closure only borrows: nothing to drop with care in the parent.
        let (pid, _) = forks.fork_with(child_end, |child_end| {
            // The parent's ends of every worker's socket, this one's included:
            // a worker must see the end of its commands when the parent is gone.
            drop(parent_end.take());
            for other in slots.iter_mut() {
                drop(other.channel.take());
            }
            match items.take() {
                Some(items) => {
                    let worker = WorkerLoop {
                        base: base.clone(),
                        stop,
                        ring: ring_ref,
                        recycle,
                    };
                    worker.run::<M, _, _, _>(items.cursor(), f, child_end)
                }
                None => 0,
            }
        });
        drop(forks);
        let pid = pid?;
        let channel = UnixStream::from(
            parent_end
                .take()
                .ok_or_else(|| io::Error::other("lost socket"))?,
        );
        sys::set_nonblocking(std::os::fd::AsFd::as_fd(&channel))?;
        let state = &mut self.slots[slot];
        state.pid = pid;
        state.channel = Some(channel);
        state.read = ring.start();
        state.ring = Some(ring);
        state.pending.clear();
        state.parsed = 0;
        state.given = 0;
        Ok(())
    }

    /// Takes the answers that `slot`'s worker published; `true` if any.
    ///
    /// They are copied out a piece at a time into the slot's buffer, which
    /// stays small (unless one answer is larger): a buffer the parent writes
    /// again and again is copied on write once after a fork, not page after
    /// page of a growing one.
    fn take_answers(&mut self, slot: usize) -> bool {
        const PIECE: u64 = 64 << 10;
        let mut took = false;
        loop {
            let state = &mut self.slots[slot];
            let Some(ring) = &state.ring else {
                return took;
            };
            match ring.published(state.read) {
                Published::Bytes { read, write } => {
                    if read == write {
                        return took;
                    }
                    let until = write.min(read + PIECE);
                    ring.take(read, until, &mut state.pending);
                    state.read = until;
                }
                Published::Broken => {
                    self.broken(slot, "its answer channel was overwritten");
                    return true;
                }
            }
            took = true;
            self.parse(slot);
        }
    }

    /// Parses the whole frames in `slot`'s pending bytes.
    fn parse(&mut self, slot: usize) {
        loop {
            if self.parse_numbers(slot) {
                self.slots[slot].runs.pop_front();
                self.hand_out(slot);
                continue;
            }
            let state = &mut self.slots[slot];
            let bytes = &state.pending[state.parsed..];
            let Some(header) = bytes.get(..FRAME_HEADER) else {
                break;
            };
            let tag = header[0];
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[1..]);
            let word = u64::from_le_bytes(word);
            // A number's frame is its header: the word is its bits, and
            // its payload empty.
            let len = if tag == NUMBER { 0 } else { word };
            let Some(payload) = usize::try_from(len)
                .ok()
                .and_then(|len| bytes.get(FRAME_HEADER..FRAME_HEADER.checked_add(len)?))
            else {
                break;
            };
            let pid = state.pid;
            let Some(run) = state.runs.front_mut() else {
                self.broken(slot, "it answered for an item it was not given");
                return;
            };
            // Built only for an error or the timeline: a name computed at run
            // time costs a reference count per copy.
            let base = &self.plan.base;
            let index = run.index();
            let name = || base.with_index(index);
            let outcome = match tag {
                OUTPUT => Some(decode::<U>(payload).map_err(|failure| failure.named(name(), pid))),
                NUMBER => match codec::from_bits::<U>(word) {
                    Some(value) => Some(Ok(value)),
                    None => {
                        self.broken(slot, "it sent a number that is no output of the map");
                        return;
                    }
                },
                PANIC | UNENCODABLE => {
                    let text = String::from_utf8_lossy(payload).into_owned();
                    let kind = if tag == PANIC {
                        ErrorKind::Panic(text)
                    } else {
                        ErrorKind::Encode(text)
                    };
                    Some(Err(Error::new(name(), kind).with_pid(pid)))
                }
                INIT_FAILED => {
                    let text = String::from_utf8_lossy(payload).into_owned();
                    let kind = ErrorKind::Init(text);
                    Some(Err(Error::new(name(), kind).with_pid(pid)))
                }
                SKIPPED if payload.is_empty() => None,
                _ => {
                    self.broken(slot, "it sent a malformed answer");
                    return;
                }
            };
            state.parsed += FRAME_HEADER + payload.len();
            match outcome {
                Some(outcome) => {
                    if self.report.timeline_enabled() {
                        let now = Instant::now();
                        let since = state.since.replace(now).unwrap_or(now);
                        let origin = self.report.origin();
                        self.report.record(Span {
                            name: name(),
                            start: since.saturating_duration_since(origin),
                            end: now.saturating_duration_since(origin),
                            place: format!("pid {pid}"),
                        });
                    }
                    self.report.advance(1);
                    if run.put(outcome) {
                        self.plan.stop(Stop::Failed);
                    }
                }
                None => run.skip(),
            }
            if run.is_done() {
                state.runs.pop_front();
                self.hand_out(slot);
            }
        }
        let state = &mut self.slots[slot];
        if state.parsed > 0 && state.parsed * 2 >= state.pending.len() {
            state.pending.drain(..state.parsed);
            state.parsed = 0;
        }
        // A large answer's frame is not kept once it was decoded: the parent
        // holds about one copy of an output and its frame, not more.
        if state.pending.is_empty() && state.pending.capacity() > 1 << 20 {
            state.pending = Vec::new();
        }
    }

    /// The in-line lane of [`parse`](Pool::parse), for the answers of cheap
    /// items: the [`NUMBER`] frames, from the next, put into the front run
    /// in one tight loop, with no per-item work for the timeline (off; it
    /// records a span per item) or the progress bar (counted once). Stops at
    /// any other frame, and at bits that are no `U`, which the caller parses
    /// (and refuses). `true` if the front run got every outcome it waited
    /// for.
    #[inline]
    fn parse_numbers(&mut self, slot: usize) -> bool {
        if self.report.timeline_enabled() {
            return false;
        }
        let state = &mut self.slots[slot];
        let Some(run) = state.runs.front_mut() else {
            return false;
        };
        let bytes = &state.pending[state.parsed..];
        let (mut at, mut count) = (0, 0);
        let mut stops = false;
        while !run.is_done() {
            let Some(frame) = bytes.get(at..at + FRAME_HEADER) else {
                break;
            };
            let mut bits = [0u8; 8];
            bits.copy_from_slice(&frame[1..]);
            let value = match frame[0] {
                NUMBER => codec::from_bits::<U>(u64::from_le_bytes(bits)),
                _ => None,
            };
            let Some(value) = value else {
                break;
            };
            stops |= run.put(Ok(value));
            at += FRAME_HEADER;
            count += 1;
        }
        if count == 0 {
            return false;
        }
        let done = run.is_done();
        state.parsed += at;
        self.report.advance(count);
        if stops {
            self.plan.stop(Stop::Failed);
        }
        done
    }

    /// Sleeps until the next check is due or a worker ends. Answers that
    /// keep coming are taken at each check, without a wake-up per answer (a
    /// system call in the worker); once the workers went quiet for a while,
    /// the parent asks the next answer to wake it.
    fn wait(&mut self) {
        self.idle = self.idle.saturating_add(1);
        // Without a timeline, nobody looks at an answer before the map
        // ends: the parent sleeps until a worker writes on its socket (at
        // the end of each run, when its ring is full, or as it ends) or the
        // deadline, instead of checking every millisecond, which on a
        // loaded machine takes a worker's core a thousand times a second.
        // The timeline stamps each answer as it is taken.
        if !self.report.timeline_enabled() {
            self.idle = 0;
            self.poll_channels(IDLE_WAIT);
            return;
        }
        let woken = self.idle > IDLE_CHECKS;
        let mut quiet = true;
        if woken {
            for state in &self.slots {
                if let Some(ring) = &state.ring
                    && !ring.prepare_sleep(state.read)
                {
                    quiet = false;
                }
            }
        }
        if quiet {
            self.poll_channels(if woken { IDLE_WAIT } else { CHECK_EVERY });
        }
        for state in &self.slots {
            if let Some(ring) = &state.ring {
                ring.awake();
            }
        }
    }

    /// Waits at most `wait` (and not past the deadline) for a worker to
    /// write on its socket, and reads what they wrote.
    fn poll_channels(&mut self, mut wait: Duration) {
        self.polled.clear();
        for (index, state) in self.slots.iter().enumerate() {
            if let Some(channel) = &state.channel {
                let fd = libc::pollfd {
                    fd: channel.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                self.polled.push((fd, index));
            }
        }
        if let Some((deadline, _)) = self.plan.deadline() {
            wait = wait.min(deadline.saturating_duration_since(Instant::now()));
        }
        let mut fds: Vec<libc::pollfd> = self.polled.iter().map(|(fd, _)| *fd).collect();
        let ready = if fds.is_empty() {
            std::thread::sleep(wait.min(Duration::from_millis(1)));
            Ok(0)
        } else {
            sys::poll(&mut fds, Some(wait))
        };
        if let Ok(ready) = ready
            && ready > 0
        {
            let polled = std::mem::take(&mut self.polled);
            for (fd, (_, slot)) in fds.iter().zip(&polled) {
                if fd.revents != 0 {
                    self.read_channel(*slot);
                }
            }
            self.polled = polled;
        }
    }

    /// Reads the wake-up bytes of `slot`'s socket; at its end, the worker
    /// is gone.
    fn read_channel(&mut self, slot: usize) {
        let mut buf = [0u8; 256];
        let ended = loop {
            let Some(channel) = &mut self.slots[slot].channel else {
                return;
            };
            match channel.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        if ended {
            self.ended(slot, None);
        }
    }

    /// The worker in `slot` is gone (its socket ended) or must go (`why`):
    /// takes what it published, reaps it, fails the item it was running, and
    /// forks its replacement if there is work left.
    fn ended(&mut self, slot: usize, why: Option<&str>) {
        if why.is_none() {
            // Whatever it published before it went.
            self.take_answers(slot);
        }
        let state = &mut self.slots[slot];
        let Some(channel) = state.channel.take() else {
            return;
        };
        end_channel(channel);
        let pid = state.pid;
        if why.is_some() {
            sys::kill(pid);
        }
        let status = reap(pid);
        let started = state.ring.as_ref().and_then(|ring| ring.started());
        if let Some(ring) = state.ring.take() {
            ring.recycle();
        }
        state.pending.clear();
        state.parsed = 0;
        let mut runs: VecDeque<ChunkSink<'a, M, U>> = std::mem::take(&mut state.runs);
        // The item it was running fails; an item it never started (it died
        // right after answering the one before) runs again elsewhere. A
        // worker that died before it started any item (in `init`, say) fails
        // the first it was given: its replacement would die the same way,
        // and the next one, for ever.
        if let Some(run) = runs.front_mut()
            && !run.is_done()
            && (why.is_some() || started.is_none_or(|started| started == run.index() as u64))
        {
            let name = self.plan.base.with_index(run.index());
            let kind = match why {
                Some(why) => ErrorKind::Transport(why.to_owned()),
                None => cause(status),
            };
            self.report.advance(1);
            if run.put(Err(Error::new(name, kind).with_pid(pid))) {
                self.plan.stop(Stop::Failed);
            }
        }
        for run in runs.into_iter().rev() {
            if !run.is_done() {
                self.retry.push_front(run);
            }
        }
        if self.plan.stopped().is_some() {
            self.retry.clear();
            return;
        }
        if self.has_work() {
            self.start(slot);
        }
    }

    /// The worker in `slot` broke the protocol: it is killed and replaced.
    fn broken(&mut self, slot: usize, why: &str) {
        self.ended(slot, Some(why));
    }

    fn deadline_passed(&self) -> bool {
        self.plan
            .deadline()
            .is_some_and(|(deadline, _)| Instant::now() >= deadline)
    }

    /// The deadline passed: no item starts any more, and the workers still
    /// running an item are killed and reaped; what they published counts.
    fn time_out(&mut self) {
        self.plan.stop(Stop::TimedOut);
        self.signal_stop();
        self.retry.clear();
        for slot in 0..self.slots.len() {
            self.take_answers(slot);
        }
        for state in &mut self.slots {
            if state.channel.is_some() && !state.runs.is_empty() {
                sys::kill(state.pid);
            }
        }
        for slot in 0..self.slots.len() {
            let state = &mut self.slots[slot];
            if state.channel.is_some() && !state.runs.is_empty() {
                reap(state.pid);
                // Whole answers that arrived before the kill still count.
                self.take_answers(slot);
                let state = &mut self.slots[slot];
                state.channel = None;
                state.ring = None;
                // The items left are timed out by the plan.
                state.runs.clear();
            }
        }
    }

    /// Tells the workers that the map stopped.
    fn signal_stop(&self) {
        if let Some(stop) = &self.stop {
            stop.get()[0].store(1, Ordering::Release);
        }
    }

    /// Tells every worker to exit (by closing its socket) and reaps it.
    fn stop_all(&mut self) {
        for state in &mut self.slots {
            if let Some(channel) = state.channel.take() {
                end_channel(channel);
            }
        }
        for state in &mut self.slots {
            if let Some(ring) = state.ring.take() {
                reap(state.pid);
                ring.recycle();
            }
        }
    }
}

impl<M: Mode<U>, U, S, F> Drop for Pool<'_, M, U, S, F> {
    /// No worker outlives the pool, also if decoding an output panicked.
    fn drop(&mut self) {
        for state in &mut self.slots {
            if state.channel.take().is_some() || state.ring.is_some() {
                sys::kill(state.pid);
                sys::wait(state.pid, true);
                state.ring = None;
            }
        }
    }
}

/// Ends the parent's side of a worker's socket: the worker sees the end of
/// its commands and exits. Shut down, not only closed: every process forked
/// since the socket was made (another pool's workers, forked on another
/// thread; a stream's fork server) holds a copy of this end, and a close
/// would end the socket only once all of those copies are gone too.
pub(crate) fn end_channel(channel: UnixStream) {
    let _ = channel.shutdown(std::net::Shutdown::Both);
}

/// Reaps `pid`, which was told to exit (or killed): it has [`GRACE`] to end,
/// then it is killed. Never waits without a bound on a child that may not end.
pub(crate) fn reap(pid: u32) -> Status {
    let until = Instant::now() + GRACE;
    // Short at first: a worker told to stop exits within microseconds.
    let mut pause = Duration::from_micros(10);
    loop {
        if let Some(status) = sys::wait(pid, false) {
            return status;
        }
        if Instant::now() >= until {
            sys::kill(pid);
            return sys::wait(pid, true).unwrap_or(Status::Lost);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Why a worker that sent no answer for its item ended.
pub(crate) fn cause(status: Status) -> ErrorKind {
    match status {
        Status::Signaled(signal) => ErrorKind::Signal(signal),
        Status::Exited(0) => {
            ErrorKind::Transport("the process exited without answering for this item".to_owned())
        }
        Status::Exited(code) => ErrorKind::Exit(code),
        Status::Lost => ErrorKind::Transport(
            "the process ended but its exit status was lost (is SIGCHLD ignored, or did other code reap it?)"
                .to_owned(),
        ),
    }
}

/// Why an output could not be decoded, before it is given its item's name.
pub(crate) enum DecodeFailure {
    /// The bytes are not a value of the type (the decoder's reason kept).
    Invalid(codec::DecodeError),
    /// The type's `Deserialize` panicked.
    Panicked(String),
}

impl DecodeFailure {
    /// The error of item `name`, sent by the process `pid`.
    pub(crate) fn named(self, name: WorkerName, pid: u32) -> Error {
        let error = match self {
            DecodeFailure::Invalid(why) => {
                Error::new(name, ErrorKind::Decode(why.to_string())).with_source(why)
            }
            DecodeFailure::Panicked(message) => Error::new(
                name,
                ErrorKind::Decode(format!("its `Deserialize` panicked: {message}")),
            ),
        };
        if pid == 0 { error } else { error.with_pid(pid) }
    }
}

/// Decodes an output from its own frame's bytes (depth and allocation are
/// bounded by the codec); a panicking `Deserialize` becomes the item's error.
#[inline(always)]
pub(crate) fn decode<U: ProcessOutput>(bytes: &[u8]) -> Result<U, DecodeFailure> {
    // A number or a bool runs no code of the program's: nothing to catch,
    // and read in line (a cheap item's answer is one).
    match codec::decode_scalar::<U>(bytes) {
        Some(value) => Ok(value),
        None => decode_caught(bytes),
    }
}

/// [`decode`] with serde, catching a panicking `Deserialize`.
#[inline(never)]
fn decode_caught<U: ProcessOutput>(bytes: &[u8]) -> Result<U, DecodeFailure> {
    match catch_unwind(AssertUnwindSafe(|| codec::decode::<U>(bytes))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(why)) => Err(DecodeFailure::Invalid(why)),
        Err(payload) => Err(DecodeFailure::Panicked(panic_message(&*payload))),
    }
}

/// Makes `frame` the frame of `tag` with `payload` so far (the length in
/// its header is left for [`Ring::push_tagged`], once the payload is
/// complete).
fn start_frame(frame: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    frame.clear();
    frame.push(tag);
    frame.extend_from_slice(&[0; FRAME_HEADER - 1]);
    frame.extend_from_slice(payload);
}

/// The worker's side of the pool.
struct WorkerLoop<'a> {
    base: WorkerName,
    stop: &'a AtomicU64,
    ring: &'a Ring,
    /// `recycle = N`: the worker exits once it answered N items.
    recycle: Option<usize>,
}

impl WorkerLoop<'_> {
    /// Runs the ranges the parent sends until its socket ends; returns the
    /// exit code.
    fn run<M, C, F, U>(self, mut items: C, f: &F, channel: OwnedFd) -> i32
    where
        M: Mode<U>,
        C: ItemCursor,
        F: WorkerTask<C::Item, Output = U>,
        U: ProcessOutput,
    {
        // Never closed: the end of the socket tells the parent that the
        // worker is exiting (at `_exit`).
        let mut channel = std::mem::ManuallyDrop::new(UnixStream::from(channel));
        let mut write = self.ring.start();
        let mut frame = Vec::new();
        // `ps` lists the worker process under the map's name.
        crate::thread_name::name_os_thread(&self.base);
        let _name = name::enter(self.base.clone());
        if cfg!(panic = "abort") {
            // A panic ends the process at once: the hook answers for the
            // item first, so that its error still carries the message.
            // Only this worker's own panics: a process its items fork (a
            // nested `spawn_processes!` or pool) inherits the hook, and must
            // not write into this worker's ring.
            let hook = self.ring.hook();
            let owner = std::process::id();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if std::process::id() == owner {
                    let message = panic_message(info.payload());
                    let mut frame = vec![PANIC];
                    frame.extend_from_slice(&(message.len() as u64).to_le_bytes());
                    frame.extend_from_slice(message.as_bytes());
                    hook.send(&frame);
                }
                previous(info);
            }));
        }
        let mut state = f.try_start();
        let mut answered = 0usize;
        loop {
            if self.recycle.is_some_and(|limit| answered >= limit) {
                // Recycled: the end of the socket tells the parent.
                return 0;
            }
            let mut command = [0u8; 16];
            if channel.read_exact(&mut command).is_err() {
                return 0;
            }
            let word = |k: usize| {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&command[8 * k..8 * k + 8]);
                usize::try_from(u64::from_le_bytes(raw)).unwrap_or(usize::MAX)
            };
            let range: Range<usize> = word(0)..word(1);
            for k in range {
                let mut small = None;
                if self.stop.load(Ordering::Acquire) != 0 {
                    start_frame(&mut frame, SKIPPED, b"");
                } else {
                    match &mut state {
                        Ok(state) => {
                            small = self.answer::<M, C, F, U>(&mut items, f, state, k, &mut frame);
                        }
                        Err(why) => {
                            start_frame(&mut frame, INIT_FAILED, why.as_bytes());
                            if M::stops_on(&Err(Error::new(
                                self.base.with_index(k),
                                ErrorKind::Init(String::new()),
                            ))) {
                                self.stop.store(1, Ordering::Release);
                            }
                        }
                    }
                }
                answered += 1;
                let mut wait = |wake: bool| {
                    // The parent sleeps: the ring is full of what it must take.
                    if wake {
                        let _ = (&*channel).write_all(&[1]);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                };
                write = match small {
                    // A number: its frame as two words.
                    Some(bits) => self.ring.push_tagged(write, NUMBER, bits, &mut wait),
                    // The header (tag and length) as words, then the rest.
                    None => {
                        let len = (frame.len() - FRAME_HEADER) as u64;
                        let write = self.ring.push_tagged(write, frame[0], len, &mut wait);
                        self.ring.push(write, &frame[FRAME_HEADER..], &mut wait)
                    }
                };
                if self.ring.publish(write) && channel.write_all(&[1]).is_err() {
                    return 0;
                }
            }
            // The end of a range: the parent wakes to hand out the next one
            // (one byte per range, not per item).
            if channel.write_all(&[1]).is_err() {
                return 0;
            }
        }
    }

    /// Runs item `k` and writes its frame into `frame` (the length in its
    /// header left for the caller), or returns the [`codec::bits`] of an
    /// output that is a number (whose frame the caller pushes as words).
    fn answer<M, C, F, U>(
        &self,
        items: &mut C,
        f: &F,
        state: &mut F::State,
        k: usize,
        frame: &mut Vec<u8>,
    ) -> Option<u64>
    where
        M: Mode<U>,
        C: ItemCursor,
        F: WorkerTask<C::Item, Output = U>,
        U: ProcessOutput,
    {
        let Some(item) = items.take(k) else {
            start_frame(
                frame,
                UNENCODABLE,
                b"the pool handed out an item twice (a bug in fanout)",
            );
            return None;
        };
        name::set_current_index(k);
        self.ring.starting(k);
        let outcome = catch_unwind(AssertUnwindSafe(|| f.call(state, item))).map_err(|payload| {
            // Named after the item while its panic was reported.
            crate::thread_name::name_os_thread(&self.base);
            let message = panic_message(&*payload);
            std::mem::forget(payload);
            Error::new(self.base.with_index(k), ErrorKind::Panic(message))
        });
        if M::stops_on(&outcome) {
            // No item starts after this one, in any worker.
            self.stop.store(1, Ordering::Release);
        }
        match outcome {
            Ok(value) => {
                // A number runs no code of the program's to encode: nothing
                // to catch, nothing to allocate.
                if let Some(bits) = codec::bits(&value) {
                    return Some(bits);
                }
                start_frame(frame, OUTPUT, b"");
                let encoded = catch_unwind(AssertUnwindSafe(|| codec::encode(&value, frame)));
                match encoded {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => start_frame(frame, UNENCODABLE, error.to_string().as_bytes()),
                    Err(payload) => {
                        start_frame(frame, PANIC, panic_message(&*payload).as_bytes());
                        std::mem::forget(payload);
                    }
                }
                // The parent has its own copy; the process ends soon.
                std::mem::forget(value);
            }
            Err(failure) => {
                let message = failure.panic_message().unwrap_or_default().to_owned();
                start_frame(frame, PANIC, message.as_bytes());
            }
        }
        None
    }
}
