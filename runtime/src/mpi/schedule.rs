//! How a map shares its items out over the ranks: rank 0 coordinates (and a
//! thread of it works), the other ranks ask it for chunks, and the outputs come
//! back to every rank by broadcast.
//!
//! The protocol, on a duplicate of `MPI_COMM_WORLD` made for each map:
//!
//! 1. every rank: the item counts are compared (two all-reduces);
//! 2. rank `r > 0`: sends [`AHEAD`] empty [`ChunkReport`]s to rank 0 (each
//!    report asks for a chunk), then, for each [`Assignment`] it receives,
//!    runs the chunk and reports it, until its requests are answered
//!    `Finished`;
//! 3. rank 0: answers each report with the next chunk, or parks the request
//!    when none is left; once every request is parked and its own worker
//!    thread is done, answers them `Finished` with the size of all outcomes
//!    serialized, then broadcasts them.
//!
//! Waiting ranks poll (`MPI_Improbe`) and sleep between polls instead of
//! blocking in MPI, whose blocking calls spin: a rank waiting for work must
//! not take a core from a rank doing it.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Destination, Root, Source};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, panic_message};
use crate::name::{self, WorkerName};
use crate::pool::PoolOptions;
use crate::report::{Report, Span};

/// Rank `r > 0` to rank 0: the outcomes of a chunk, and a request for the next.
const TAG_REPORT: i32 = 1;
/// Rank 0 to rank `r > 0`: a chunk to run, or the end of the map.
const TAG_ASSIGN: i32 = 2;
/// How many requests for work a rank keeps in flight: two, so that its next
/// chunk travels while it runs the current one.
const AHEAD: usize = 2;

/// What became of one item, as it crosses ranks.
#[derive(Serialize, Deserialize)]
enum Outcome<U> {
    /// The function returned.
    Done(U),
    /// The function panicked on `rank`.
    Panicked { message: String, rank: u32 },
    /// Not started: an earlier item failed (`try`).
    Skipped,
    /// Not started: the map's deadline had passed (`timeout`).
    Late,
}

/// The outcomes of the chunk starting at `start`, from a rank to rank 0.
#[derive(Serialize, Deserialize)]
struct ChunkReport<U> {
    start: u64,
    outcomes: Vec<Outcome<U>>,
    /// With the `timeline` option: when each item ran, in microseconds from
    /// the rank's start of the map (`None` for skipped items).
    spans: Vec<Option<(u64, u64)>>,
}

/// From rank 0 to a rank that asked for work.
#[derive(Serialize, Deserialize)]
enum Assignment {
    /// Run items `start..end`, but none after `limit` (`try`).
    Chunk { start: u64, end: u64, limit: u64 },
    /// No work is left: the outcomes (`bytes` long) are broadcast next.
    Finished { bytes: u64 },
}

/// What every rank knows about the map.
struct Job<'a, F, U> {
    options: &'a PoolOptions,
    base: WorkerName,
    f: F,
    /// Whether an output stops the items after it (`try`: it is an `Err`).
    fails: fn(&U) -> bool,
    rank: usize,
    /// Threads per rank.
    workers: usize,
    /// Threads in the whole job, for the size of guided chunks.
    total_workers: usize,
    /// Where this rank runs, for the timeline.
    place: String,
}

/// Runs the map on every rank; see the module docs. `fails` tells which
/// outputs cancel the later items (`try`).
pub(super) fn run<X, U, F>(
    options: &PoolOptions,
    base: WorkerName,
    items: Vec<X>,
    f: F,
    fails: fn(&U) -> bool,
) -> Vec<Result<U, Error>>
where
    X: Send,
    F: Fn(X) -> U + Sync,
    U: Serialize + DeserializeOwned + Send,
{
    let _running = Running::enter();
    let world = super::world::world();
    let super::world::Place { rank, size } = super::world::place();
    let (rank, size) = (*rank, *size);
    let workers = options.workers.unwrap_or(1).max(1);
    let job = Job {
        options,
        base,
        f,
        fails,
        rank,
        workers,
        total_workers: size * workers,
        place: format!("rank {rank}"),
    };
    let outcomes = if size == 1 {
        alone(&job, items)
    } else {
        let comm = world.duplicate();
        check_same_items(&comm, rank, items.len());
        if rank == 0 {
            coordinate(&job, &comm, items)
        } else {
            work(&job, &comm, items)
        }
    };
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| {
            let name = base.with_index(index);
            match outcome {
                Outcome::Done(value) => Ok(value),
                Outcome::Panicked { message, rank } => Err(Error::new(
                    name,
                    ErrorKind::Panic(format!("{message} (on MPI rank {rank})")),
                )),
                Outcome::Skipped => Err(Error::new(name, ErrorKind::Cancelled)),
                Outcome::Late => Err(Error::new(
                    name,
                    ErrorKind::Timeout(options.timeout.unwrap_or_default()),
                )),
            }
        })
        .collect()
}

/// A job of one rank: every item runs here.
fn alone<X, U, F>(job: &Job<'_, F, U>, items: Vec<X>) -> Vec<Outcome<U>>
where
    X: Send,
    F: Fn(X) -> U + Sync,
    U: Send,
{
    let report = Report::new(job.options.timeline, job.options.progress);
    report.expect(items.len());
    let mut items: Vec<Option<X>> = items.into_iter().map(Some).collect();
    let limit = AtomicUsize::new(usize::MAX);
    let (outcomes, spans) = run_chunk(job, &mut items, 0, &limit, report.origin());
    record(&report, job.base, 0, &spans, &job.place);
    report.advance(outcomes.len());
    report.finish("pool_map!(...; mpi)");
    outcomes
}

/// Rank 0: hands out chunks, runs chunks on a thread of its own, gathers the
/// outcomes and broadcasts them.
fn coordinate<X, U, F>(
    job: &Job<'_, F, U>,
    comm: &SimpleCommunicator,
    items: Vec<X>,
) -> Vec<Outcome<U>>
where
    X: Send,
    F: Fn(X) -> U + Sync,
    U: Serialize + DeserializeOwned + Send,
{
    let len = items.len();
    let others = usize::try_from(comm.size()).unwrap_or(1) - 1;
    let report = Report::new(job.options.timeline, job.options.progress);
    report.expect(len);
    let origin = report.origin();
    let plan = Plan {
        len,
        chunksize: job.options.chunksize,
        total_workers: job.total_workers,
        next: Mutex::new(0),
        first_failure: AtomicUsize::new(usize::MAX),
        deadline: job.options.timeout.map(|limit| origin + limit),
    };
    let slots: Mutex<Vec<Option<Outcome<U>>>> = Mutex::new((0..len).map(|_| None).collect());
    let store = |start: usize, outcomes: Vec<Outcome<U>>| {
        let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
        for (slot, outcome) in slots[start..].iter_mut().zip(outcomes) {
            *slot = Some(outcome);
        }
    };
    let mut parked = Vec::with_capacity(AHEAD * others);
    std::thread::scope(|scope| {
        let local = std::thread::Builder::new()
            .name("fanout-mpi-rank-0".to_owned())
            .spawn_scoped(scope, || {
                let mut items: Vec<Option<X>> = items.into_iter().map(Some).collect();
                while let Some(chunk) = plan.grab() {
                    let (outcomes, spans) = run_chunk(
                        job,
                        &mut items[chunk.clone()],
                        chunk.start,
                        &plan.first_failure,
                        origin,
                    );
                    record(&report, job.base, chunk.start, &spans, &job.place);
                    report.advance(outcomes.len());
                    store(chunk.start, outcomes);
                }
            })
            .unwrap_or_else(|e| {
                panic!("fanout: cannot start the worker thread of MPI rank 0: {e}")
            });
        let mut idle = Backoff::default();
        loop {
            if let Some(probed) = comm
                .any_process()
                .immediate_matched_probe_with_tag(TAG_REPORT)
            {
                let (bytes, status) = probed.matched_receive_vec::<u8>();
                let from = status.source_rank();
                let chunk: ChunkReport<U> = decode(&bytes, "a chunk report", from);
                let start = usize::try_from(chunk.start).unwrap_or(usize::MAX);
                for (k, outcome) in chunk.outcomes.iter().enumerate() {
                    if matches!(outcome, Outcome::Done(value) if (job.fails)(value)) {
                        plan.first_failure.fetch_min(start + k, Ordering::Relaxed);
                    }
                }
                let spans: Vec<Option<(Duration, Duration)>> = chunk
                    .spans
                    .iter()
                    .map(|span| span.map(|(a, b)| (micros(a), micros(b))))
                    .collect();
                let place = format!("rank {from}");
                record(&report, job.base, start, &spans, &place);
                report.advance(chunk.outcomes.len());
                if !chunk.outcomes.is_empty() {
                    store(start, chunk.outcomes);
                }
                match plan.grab() {
                    Some(next) => {
                        let assignment = Assignment::Chunk {
                            start: next.start as u64,
                            end: next.end as u64,
                            limit: plan.first_failure.load(Ordering::Relaxed) as u64,
                        };
                        comm.process_at_rank(from)
                            .send_with_tag(&encode(&assignment)[..], TAG_ASSIGN);
                    }
                    None => parked.push(from),
                }
                idle = Backoff::default();
            } else if parked.len() == AHEAD * others && local.is_finished() {
                break;
            } else {
                idle.snooze();
            }
        }
        if let Err(payload) = local.join() {
            std::panic::resume_unwind(payload);
        }
    });
    // Items never handed out were cancelled by an earlier failure (`try`),
    // or came after the deadline (`timeout`).
    let first_failure = plan.first_failure.load(Ordering::Relaxed);
    let outcomes: Vec<Outcome<U>> = slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .enumerate()
        .map(|(index, slot)| match slot {
            Some(outcome) => outcome,
            None if index > first_failure => Outcome::Skipped,
            None => Outcome::Late,
        })
        .collect();
    let mut bytes = encode(&outcomes);
    let finished = encode(&Assignment::Finished {
        bytes: bytes.len() as u64,
    });
    for rank in parked {
        comm.process_at_rank(rank)
            .send_with_tag(&finished[..], TAG_ASSIGN);
    }
    broadcast(comm, &mut bytes);
    report.finish("pool_map!(...; mpi)");
    outcomes
}

/// Rank `r > 0`: asks rank 0 for chunks and runs them until none is left,
/// then receives every outcome. It keeps [`AHEAD`] requests in flight, so the
/// next chunk is already there when one ends.
fn work<X, U, F>(job: &Job<'_, F, U>, comm: &SimpleCommunicator, items: Vec<X>) -> Vec<Outcome<U>>
where
    X: Send,
    F: Fn(X) -> U + Sync,
    U: Serialize + DeserializeOwned + Send,
{
    let origin = Instant::now();
    let mut items: Vec<Option<X>> = items.into_iter().map(Some).collect();
    let root = comm.process_at_rank(0);
    let request = encode(&ChunkReport::<U> {
        start: 0,
        outcomes: Vec::new(),
        spans: Vec::new(),
    });
    for _ in 0..AHEAD {
        root.send_with_tag(&request[..], TAG_REPORT);
    }
    // Requests not answered yet, and the lowest failing index known here.
    let mut waiting = AHEAD;
    let limit = AtomicUsize::new(usize::MAX);
    let mut total = 0;
    while waiting > 0 {
        let mut idle = Backoff::default();
        let probed = loop {
            match root.immediate_matched_probe_with_tag(TAG_ASSIGN) {
                Some(probed) => break probed,
                None => idle.snooze(),
            }
        };
        let (bytes, _) = probed.matched_receive_vec::<u8>();
        waiting -= 1;
        match decode(&bytes, "an assignment", 0) {
            Assignment::Chunk {
                start,
                end,
                limit: known,
            } => {
                let chunk = index(start)..index(end);
                limit.fetch_min(index(known), Ordering::Relaxed);
                let (outcomes, spans) =
                    run_chunk(job, &mut items[chunk.clone()], chunk.start, &limit, origin);
                let spans = spans
                    .into_iter()
                    .map(|span| span.map(|(a, b)| (a.as_micros() as u64, b.as_micros() as u64)))
                    .collect();
                let report = ChunkReport {
                    start,
                    outcomes,
                    spans,
                };
                root.send_with_tag(&encode(&report)[..], TAG_REPORT);
                waiting += 1;
            }
            // Once one request is answered so, all are: no chunk is left.
            Assignment::Finished { bytes } => total = index(bytes),
        }
    }
    let mut bytes = vec![0; total];
    broadcast(comm, &mut bytes);
    decode(&bytes, "the outcomes", 0)
}

/// Runs the items of one chunk (the slice starting at item `start`) on this
/// rank, on `job.workers` threads; items after `limit` are skipped, and an
/// output that fails lowers `limit`. Returns each outcome and, with the
/// timeline, when each item ran (from `origin`).
#[allow(clippy::type_complexity)]
fn run_chunk<X, U, F>(
    job: &Job<'_, F, U>,
    items: &mut [Option<X>],
    start: usize,
    limit: &AtomicUsize,
    origin: Instant,
) -> (Vec<Outcome<U>>, Vec<Option<(Duration, Duration)>>)
where
    X: Send,
    F: Fn(X) -> U + Sync,
    U: Send,
{
    let timeline = job.options.timeline;
    let run_one = |index: usize, item: &mut Option<X>| {
        if index > limit.load(Ordering::Relaxed) {
            return (Outcome::Skipped, None);
        }
        if job
            .options
            .timeout
            .is_some_and(|limit| origin.elapsed() > limit)
        {
            return (Outcome::Late, None);
        }
        let Some(item) = item.take() else {
            panic!("fanout: item {index} was handed out twice (a bug in fanout's MPI backend)")
        };
        let name = job.base.with_index(index);
        let _name = name::enter(name);
        let began = origin.elapsed();
        let outcome = match catch_unwind(AssertUnwindSafe(|| (job.f)(item))) {
            Ok(value) => {
                if (job.fails)(&value) {
                    limit.fetch_min(index, Ordering::Relaxed);
                }
                Outcome::Done(value)
            }
            Err(payload) => Outcome::Panicked {
                message: panic_message(&*payload),
                rank: job.rank as u32,
            },
        };
        (outcome, timeline.then(|| (began, origin.elapsed())))
    };
    if job.workers == 1 {
        items
            .iter_mut()
            .enumerate()
            .map(|(k, item)| run_one(start + k, item))
            .unzip()
    } else {
        crate::pool::thread_pool(job.workers).install(|| {
            items
                .par_iter_mut()
                .enumerate()
                .map(|(k, item)| run_one(start + k, item))
                .unzip()
        })
    }
}

/// Rank 0's schedule: which items are handed out next.
struct Plan {
    len: usize,
    chunksize: Option<usize>,
    total_workers: usize,
    next: Mutex<usize>,
    /// The lowest index whose output failed (`try`), or `usize::MAX`.
    first_failure: AtomicUsize,
    /// No chunk is handed out after this instant (`timeout`).
    deadline: Option<Instant>,
}

impl Plan {
    /// The next chunk, or `None` when every item was handed out, an earlier
    /// item failed, or the deadline passed. Without `chunksize`, guided: the remaining items over twice
    /// the number of workers, at least one.
    fn grab(&self) -> Option<Range<usize>> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let start = *next;
        if start >= self.len
            || start > self.first_failure.load(Ordering::Relaxed)
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() > deadline)
        {
            return None;
        }
        let remaining = self.len - start;
        let size = self
            .chunksize
            .unwrap_or_else(|| remaining.div_ceil(2 * self.total_workers))
            .clamp(1, remaining);
        *next = start + size;
        Some(start..start + size)
    }
}

/// Every rank panics if the ranks disagree on the number of items.
fn check_same_items(comm: &SimpleCommunicator, rank: usize, len: usize) {
    let mine = len as u64;
    let (mut most, mut fewest) = (0u64, 0u64);
    comm.all_reduce_into(&mine, &mut most, SystemOperation::max());
    comm.all_reduce_into(&mine, &mut fewest, SystemOperation::min());
    assert!(
        most == fewest,
        "fanout: pool_map!(...; mpi) got {len} items on MPI rank {rank}, but the ranks have \
         from {fewest} to {most}: every rank must compute the same items, in the same order"
    );
}

/// Rank 0 sends `bytes` to every rank, by pieces that fit MPI's `int` counts.
fn broadcast(comm: &SimpleCommunicator, bytes: &mut [u8]) {
    const PIECE: usize = 1 << 30;
    let root = comm.process_at_rank(0);
    for piece in bytes.chunks_mut(PIECE) {
        root.broadcast_into(piece);
    }
}

/// Adds the spans of a chunk (items from `start`) to the timeline.
fn record(
    report: &Report,
    base: WorkerName,
    start: usize,
    spans: &[Option<(Duration, Duration)>],
    place: &str,
) {
    if !report.timeline_enabled() {
        return;
    }
    for (k, span) in spans.iter().enumerate() {
        if let Some((began, ended)) = *span {
            report.record(Span {
                name: base.with_index(start + k),
                start: began,
                end: ended,
                place: place.to_owned(),
            });
        }
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap_or_else(|e| {
        panic!("fanout: pool_map!(...; mpi) cannot serialize an output with postcard: {e}")
    })
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str, from: i32) -> T {
    postcard::from_bytes(bytes).unwrap_or_else(|e| {
        panic!(
            "fanout: pool_map!(...; mpi) cannot read {what} from MPI rank {from} ({e}): \
             do all ranks run the same program?"
        )
    })
}

fn index(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn micros(value: u64) -> Duration {
    Duration::from_micros(value)
}

/// Waiting without spinning: yields a few times, then sleeps longer and
/// longer, up to a third of a millisecond.
#[derive(Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    fn snooze(&mut self) {
        const YIELDS: u32 = 16;
        if self.step < YIELDS {
            std::thread::yield_now();
        } else {
            let doublings = (self.step - YIELDS).min(4);
            std::thread::sleep(Duration::from_micros(20 << doublings));
        }
        self.step += 1;
    }
}

/// One map at a time in a process: MPI maps are collective, so every rank must
/// run them in the same order.
struct Running;

static RUNNING: AtomicBool = AtomicBool::new(false);

impl Running {
    fn enter() -> Self {
        assert!(
            !RUNNING.swap(true, Ordering::Acquire),
            "fanout: a pool_map!(...; mpi) is already running in this process (nested, or on \
             another thread): MPI maps run one at a time, in the same order on every rank"
        );
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}
