//! The MPI executor: how a map shares its items out over the ranks. Rank 0
//! coordinates (and a thread of it works), the other ranks ask it for chunks,
//! and the outcomes come back to every rank by broadcast; then every rank
//! settles them through the engine's sink, so the output and the failure
//! rules are those of every other backend.
//!
//! The protocol, on a duplicate of `MPI_COMM_WORLD` made for each map:
//!
//! 1. every rank: the item counts are compared (two all-reduces);
//! 2. rank `r > 0` with threads: sends one empty [`ChunkReport`] per thread
//!    to rank 0 (each report asks for a chunk), then, for each
//!    [`Assignment`] it receives, runs the chunk on a thread of its own and
//!    reports it, until its requests are answered `Finished`; a rank without
//!    threads waits for one `Finished`;
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Destination, Root, Source};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, panic_message};
use crate::map::MapOptions;
use crate::map::mode::Mode;
use crate::map::plan::{Plan, Stop};
use crate::map::sink::Collect;
use crate::map::task::{Plain, WithInit, WorkerTask};
use crate::mpi::world;
use crate::name::{self, WorkerName};
use crate::process::ProcessOutput;
use crate::report::{Report, Span};

/// Rank `r > 0` to rank 0: the outcomes of a chunk, and a request for the next.
const TAG_REPORT: i32 = 1;
/// Rank 0 to rank `r > 0`: a chunk to run, or the end of the map.
const TAG_ASSIGN: i32 = 2;
/// How many requests for work a rank with `threads` threads keeps in flight:
/// one per thread (one more would let a rank hold a chunk it cannot start
/// while another rank has a thread with nothing to do).
fn requests(threads: usize) -> usize {
    threads
}

/// What became of one item, as it crosses ranks. Each output is encoded on
/// its own, so that one that cannot be encoded (or decoded) fails its item
/// alone.
#[derive(Serialize, Deserialize)]
enum Outcome {
    /// The function returned this output, encoded.
    Done(Vec<u8>),
    /// The function panicked on `rank`.
    Panicked { message: String, rank: u32 },
    /// The output could not be encoded on `rank`.
    Unencodable { message: String, rank: u32 },
    /// Not run: the `init` of `rank` panicked.
    InitFailed { message: String, rank: u32 },
    /// Not started: the map had stopped after a failure.
    Skipped,
    /// Not started: the map's deadline had passed (`timeout`).
    Late,
}

/// The outcomes of the chunk starting at `start`, from a rank to rank 0.
#[derive(Serialize, Deserialize)]
struct ChunkReport {
    start: u64,
    /// Whether one of these outcomes stops the map.
    stops: bool,
    outcomes: Vec<Outcome>,
    /// With the `timeline` option: when each item ran, in microseconds from
    /// the rank's start of the map (`None` for skipped items).
    spans: Vec<Option<(u64, u64)>>,
}

/// From rank 0 to a rank that asked for work.
#[derive(Serialize, Deserialize)]
enum Assignment {
    /// Run items `start..end`, unless the map stopped (`stopped`).
    Chunk { start: u64, end: u64, stopped: bool },
    /// No work is left: the outcomes (`bytes` long) are broadcast next.
    Finished { bytes: u64 },
}

/// What every rank knows about the map.
struct Job<'a, F: WorkerTask<X>, X, M> {
    options: &'a MapOptions,
    base: WorkerName,
    /// The function, with or without `init`.
    task: F,
    /// The states this rank's `init` built (or why it failed), while no
    /// chunk holds them: a chunk takes one, or builds one if none is free, and
    /// gives it back. A rank runs one chunk at a time by default, so it builds
    /// one state in all; with more threads than ranks, one per thread at most.
    states: Mutex<Vec<Result<F::State, String>>>,
    rank: usize,
    /// Threads on this rank (0: the rank only coordinates, or waits).
    threads: usize,
    /// Threads of every rank.
    threads_of: Vec<usize>,
    chunk: usize,
    /// Where this rank runs, for the timeline.
    place: String,
    _mode: std::marker::PhantomData<fn(X) -> M>,
}

/// `workers` items at once over the whole job: rank `r` runs `workers /
/// size` threads, one more for the first `workers % size` ranks (by
/// default, `workers` is the number of ranks: one item per rank at a time).
fn threads_of(workers: usize, size: usize) -> Vec<usize> {
    (0..size)
        .map(|rank| workers / size + usize::from(rank < workers % size))
        .collect()
}

/// Maps `f` over `items` on the ranks of the MPI job; every rank returns the
/// same output, in input order, shaped by `mode` (see
/// [`on_threads`](crate::map::on_threads)). See the [`mpi`](crate::mpi)
/// module for how the items are shared out.
///
/// ```
/// use fanout::map::{self, Catch, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let squares = map::on_mpi(&MapOptions::new(), Unwrap, WorkerName::new("square"), 0..10u64, |x| x * x);
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// let checked = map::on_mpi(&MapOptions::new(), Catch, WorkerName::new("check"), 0..4, |x: u32| {
///     assert!(x != 2, "two is not allowed");
///     x * 10
/// });
/// assert_eq!(checked[2].as_ref().unwrap_err().panic_message(), Some("two is not allowed (on MPI rank 0)"));
/// ```
///
/// # Panics
/// With [`Unwrap`](crate::map::Unwrap) and [`Try`](crate::map::Try), if an item
/// failed: on every rank, with the failure of the lowest index.
#[track_caller]
pub fn on_mpi<M, I, F, U>(
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
    U: ProcessOutput + Send,
{
    on_mpi_task(options, mode, name, items, Plain(f))
}

/// [`on_mpi`] with a state built once per rank by `init`
/// (`pool_map!(f, items; mpi, init = || state)`, Python's `initializer=`):
/// `f` takes `(&mut state, item)`. A rank builds its state before its first
/// item and keeps it for every chunk it runs (one state per rank; with more
/// `workers` than ranks, one per thread of the rank at most). An `init` that
/// panics fails every item of its rank with an
/// [`ErrorKind::Init`](crate::ErrorKind::Init) error that names the rank.
///
/// ```
/// use fanout::map::{self, MapOptions, Unwrap};
/// use fanout::WorkerName;
///
/// let offsets = map::on_mpi_with_init(&MapOptions::new(), Unwrap, WorkerName::new("add"), 0..4u64, || 100, |base: &mut u64, x| *base + x);
/// assert_eq!(offsets, [100, 101, 102, 103]);
/// ```
///
/// # Panics
/// As [`on_mpi`].
#[track_caller]
pub fn on_mpi_with_init<M, I, G, S, F, U>(
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
    S: Send,
    F: Fn(&mut S, I::Item) -> U + Sync,
    U: ProcessOutput + Send,
{
    on_mpi_task(options, mode, name, items, WithInit { init, f })
}

#[track_caller]
fn on_mpi_task<M, I, F, U>(
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
    F: WorkerTask<I::Item, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let _ = mode;
    // A panicking item is reported under its worker's name (`thread_name`).
    crate::thread_name::install_panic_hook();
    let items: Vec<I::Item> = items.into_iter().collect();
    let outcomes = run_outcomes::<M, _, _, _>(options, name.clone(), items, f);
    let plan = Plan::new(options, name.clone(), outcomes.len());
    let collect = Collect::<M, U>::new(outcomes.len());
    if outcomes.iter().any(|o| matches!(o, Outcome::Late)) {
        plan.stop(Stop::TimedOut);
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Skipped)) {
        plan.stop(Stop::Failed);
    }
    if let Some(mut run) = collect.claim(outcomes.len()) {
        for outcome in outcomes {
            let name = name.with_index(run.index());
            let outcome = match outcome {
                Outcome::Done(bytes) => Ok(crate::map::processes::decode::<U>(&bytes)
                    .map_err(|failure| failure.named(name, 0))),
                Outcome::Panicked { message, rank } => Ok(Err(Error::new(
                    name,
                    ErrorKind::Panic(format!("{message} (on MPI rank {rank})")),
                ))),
                Outcome::Unencodable { message, rank } => Ok(Err(Error::new(
                    name,
                    ErrorKind::Encode(format!("{message} (on MPI rank {rank})")),
                ))),
                Outcome::InitFailed { message, rank } => Ok(Err(Error::new(
                    name,
                    ErrorKind::Init(format!("{message} (on MPI rank {rank})")),
                ))),
                Outcome::Skipped | Outcome::Late => Err(()),
            };
            match outcome {
                Ok(Ok(value)) => {
                    run.put(Ok(value));
                }
                Ok(Err(failure)) => {
                    run.put(Err(failure));
                }
                Err(()) => run.skip(),
            }
        }
    }
    collect.finish(&plan)
}

/// The outcome of every item, on every rank.
fn run_outcomes<M, X, U, F>(
    options: &MapOptions,
    base: WorkerName,
    items: Vec<X>,
    f: F,
) -> Vec<Outcome>
where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let _running = Running::enter();
    let world = world::world();
    let world::Place { rank, size } = world::place();
    let (rank, size) = (*rank, *size);
    let workers = options.workers_option().unwrap_or(size);
    let threads_of = threads_of(workers, size);
    let len = items.len();
    let job = Job::<_, X, M> {
        options,
        base,
        task: f,
        states: Mutex::new(Vec::new()),
        rank,
        threads: threads_of[rank],
        chunk: options
            .chunksize_option()
            .unwrap_or_else(|| len.div_ceil(4 * workers))
            .max(1),
        threads_of,
        place: format!("rank {rank}"),
        _mode: std::marker::PhantomData,
    };
    if size == 1 {
        alone(&job, items)
    } else {
        let comm = world.duplicate();
        check_same_items(&comm, rank, len);
        if rank == 0 {
            coordinate(&job, &comm, items)
        } else {
            work(&job, &comm, items)
        }
    }
}

/// A job of one rank: every item runs here, on its threads.
fn alone<X, U, F, M>(job: &Job<'_, F, X, M>, items: Vec<X>) -> Vec<Outcome>
where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let len = items.len();
    let (report, plan) = Handout::start(job, len);
    let items: Vec<Mutex<Option<X>>> = items
        .into_iter()
        .map(|item| Mutex::new(Some(item)))
        .collect();
    let slots: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..len).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..job.threads.max(1) {
            scope.spawn(|| run_local(job, &plan, &items, &slots, &report));
        }
    });
    report.finish("pool_map!(...; mpi)");
    unhanded(&plan, slots)
}

/// One worker thread of this rank: runs the chunks `plan` hands out.
fn run_local<X, U, F, M>(
    job: &Job<'_, F, X, M>,
    plan: &Handout,
    items: &[Mutex<Option<X>>],
    slots: &Mutex<Vec<Option<Outcome>>>,
    report: &Report,
) where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    while let Some(chunk) = plan.grab() {
        let (outcomes, spans) = run_chunk(
            job,
            &items[chunk.clone()],
            chunk.start,
            &plan.stopped,
            report.origin(),
        );
        record(report, job.base.clone(), chunk.start, &spans, &job.place);
        report.advance(outcomes.len());
        store(slots, chunk.start, outcomes);
    }
}

/// Puts the outcomes of the chunk starting at `start` in their slots.
fn store(slots: &Mutex<Vec<Option<Outcome>>>, start: usize, outcomes: Vec<Outcome>) {
    let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
    for (slot, outcome) in slots.iter_mut().skip(start).zip(outcomes) {
        *slot = Some(outcome);
    }
}

/// Every outcome; the items never handed out came after a failure or after
/// the deadline.
fn unhanded(plan: &Handout, slots: Mutex<Vec<Option<Outcome>>>) -> Vec<Outcome> {
    let stopped = plan.stopped.load(Ordering::Relaxed);
    slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .map(|slot| match slot {
            Some(outcome) => outcome,
            None if stopped => Outcome::Skipped,
            None => Outcome::Late,
        })
        .collect()
}

/// Rank 0: hands out chunks, runs chunks on threads of its own, gathers the
/// outcomes and broadcasts them.
fn coordinate<X, U, F, M>(
    job: &Job<'_, F, X, M>,
    comm: &SimpleCommunicator,
    items: Vec<X>,
) -> Vec<Outcome>
where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let len = items.len();
    let working: Vec<i32> = (1..job.threads_of.len())
        .filter(|&r| job.threads_of[r] > 0)
        .map(|r| r as i32)
        .collect();
    let (report, plan) = Handout::start(job, len);
    let slots: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..len).map(|_| None).collect());
    let items: Vec<Mutex<Option<X>>> = items
        .into_iter()
        .map(|item| Mutex::new(Some(item)))
        .collect();
    let all_requests: usize = working
        .iter()
        .map(|&r| requests(job.threads_of[r as usize]))
        .sum();
    let mut parked = Vec::with_capacity(all_requests);
    std::thread::scope(|scope| {
        let local: Vec<_> = (0..job.threads)
            .map(|k| {
                std::thread::Builder::new()
                    .name(format!("fanout-mpi-rank-0-{k}"))
                    .spawn_scoped(scope, || run_local(job, &plan, &items, &slots, &report))
                    .unwrap_or_else(|e| {
                        panic!("fanout: cannot start a worker thread of MPI rank 0: {e}")
                    })
            })
            .collect();
        let mut idle = Backoff::default();
        loop {
            if let Some(probed) = comm
                .any_process()
                .immediate_matched_probe_with_tag(TAG_REPORT)
            {
                let (bytes, status) = probed.matched_receive_vec::<u8>();
                let from = status.source_rank();
                let chunk: ChunkReport = decode_protocol(&bytes, "a chunk report", from);
                let start = usize::try_from(chunk.start).unwrap_or(usize::MAX);
                if chunk.stops {
                    plan.stopped.store(true, Ordering::Relaxed);
                }
                let spans: Vec<Option<(Duration, Duration)>> = chunk
                    .spans
                    .iter()
                    .map(|span| span.map(|(a, b)| (micros(a), micros(b))))
                    .collect();
                let place = format!("rank {from}");
                record(&report, job.base.clone(), start, &spans, &place);
                report.advance(chunk.outcomes.len());
                if !chunk.outcomes.is_empty() {
                    store(&slots, start, chunk.outcomes);
                }
                match plan.grab() {
                    Some(next) => {
                        let assignment = Assignment::Chunk {
                            start: next.start as u64,
                            end: next.end as u64,
                            stopped: plan.stopped.load(Ordering::Relaxed),
                        };
                        comm.process_at_rank(from)
                            .send_with_tag(&encode_protocol(&assignment)[..], TAG_ASSIGN);
                    }
                    None => parked.push(from),
                }
                idle = Backoff::default();
            } else if parked.len() == all_requests && local.iter().all(|local| local.is_finished())
            {
                break;
            } else {
                idle.snooze();
            }
        }
        for local in local {
            if let Err(payload) = local.join() {
                std::panic::resume_unwind(payload);
            }
        }
    });
    let outcomes = unhanded(&plan, slots);
    let mut bytes = encode_protocol(&outcomes);
    let finished = encode_protocol(&Assignment::Finished {
        bytes: bytes.len() as u64,
    });
    // Every request is answered so, and a rank without threads (it asked
    // for nothing) is told once.
    let idle = (1..job.threads_of.len())
        .filter(|&r| job.threads_of[r] == 0)
        .map(|r| r as i32);
    for rank in parked.into_iter().chain(idle) {
        comm.process_at_rank(rank)
            .send_with_tag(&finished[..], TAG_ASSIGN);
    }
    broadcast(comm, &mut bytes);
    report.finish("pool_map!(...; mpi)");
    outcomes
}

/// Rank `r > 0`: asks rank 0 for chunks and runs them, on its threads, until
/// none is left, then receives every outcome. It keeps one request in flight
/// per thread.
fn work<X, U, F, M>(
    job: &Job<'_, F, X, M>,
    comm: &SimpleCommunicator,
    items: Vec<X>,
) -> Vec<Outcome>
where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let origin = Instant::now();
    let items: Vec<Mutex<Option<X>>> = items
        .into_iter()
        .map(|item| Mutex::new(Some(item)))
        .collect();
    let root = comm.process_at_rank(0);
    let mut waiting = requests(job.threads);
    let request = encode_protocol(&ChunkReport {
        start: 0,
        stops: false,
        outcomes: Vec::new(),
        spans: Vec::new(),
    });
    for _ in 0..waiting {
        root.send_with_tag(&request[..], TAG_REPORT);
    }
    let stop = AtomicBool::new(false);
    let mut total = None;
    std::thread::scope(|scope| {
        let mut running = Vec::new();
        // Chunks received while every thread is busy: at most `threads` run.
        let mut queued: std::collections::VecDeque<(u64, std::ops::Range<usize>)> =
            std::collections::VecDeque::new();
        let mut idle = Backoff::default();
        loop {
            while running.len() < job.threads
                && let Some((start, chunk)) = queued.pop_front()
            {
                let (items, stop) = (&items[chunk.clone()], &stop);
                let first = chunk.start;
                let handle = scope.spawn(move || run_chunk(job, items, first, stop, origin));
                running.push((start, handle));
            }
            // Chunks that ended: their report is also the next request.
            let (ended, still): (Vec<_>, Vec<_>) = running.into_iter().partition(
                |(_, handle): &(u64, std::thread::ScopedJoinHandle<'_, _>)| handle.is_finished(),
            );
            running = still;
            for (start, handle) in ended {
                let (outcomes, spans): (Vec<Outcome>, Vec<Option<(Duration, Duration)>>) =
                    match handle.join() {
                        Ok(done) => done,
                        Err(payload) => std::panic::resume_unwind(payload),
                    };
                let spans = spans
                    .into_iter()
                    .map(|span| span.map(|(a, b)| (a.as_micros() as u64, b.as_micros() as u64)))
                    .collect();
                let report = ChunkReport {
                    start,
                    stops: stop.load(Ordering::Relaxed),
                    outcomes,
                    spans,
                };
                root.send_with_tag(&encode_protocol(&report)[..], TAG_REPORT);
                waiting += 1;
                idle = Backoff::default();
            }
            if total.is_some() && running.is_empty() && queued.is_empty() && waiting == 0 {
                break;
            }
            let Some(probed) = root.immediate_matched_probe_with_tag(TAG_ASSIGN) else {
                idle.snooze();
                continue;
            };
            idle = Backoff::default();
            let (bytes, _) = probed.matched_receive_vec::<u8>();
            waiting = waiting.saturating_sub(1);
            match decode_protocol(&bytes, "an assignment", 0) {
                Assignment::Chunk {
                    start,
                    end,
                    stopped,
                } => {
                    if stopped {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let chunk = index(start).min(items.len())..index(end).min(items.len());
                    queued.push_back((start, chunk));
                }
                // Once one request is answered so, all are: no chunk is left.
                // A rank without threads sent none and gets one `Finished`.
                Assignment::Finished { bytes } => total = Some(index(bytes)),
            }
            if job.threads == 0 && total.is_some() {
                break;
            }
        }
    });
    let mut bytes = vec![0; total.unwrap_or(0)];
    broadcast(comm, &mut bytes);
    decode_protocol(&bytes, "the outcomes", 0)
}

/// Runs the items of one chunk (the slice starting at item `start`) on this
/// thread; no item starts once `stop` is set (by an
/// outcome that stops the map, here or on another rank) or after the
/// deadline. Returns each outcome and, with the timeline, when each item ran
/// (from `origin`).
#[allow(clippy::type_complexity)]
fn run_chunk<X, U, F, M>(
    job: &Job<'_, F, X, M>,
    items: &[Mutex<Option<X>>],
    start: usize,
    stop: &AtomicBool,
    origin: Instant,
) -> (Vec<Outcome>, Vec<Option<(Duration, Duration)>>)
where
    M: Mode<U>,
    X: Send,
    F: WorkerTask<X, Output = U> + Sync,
    F::State: Send,
    U: ProcessOutput + Send,
{
    let timeline = job.options.timeline_enabled();
    // The rank's state, taken for this chunk when its first item starts.
    let mut state: Option<Result<F::State, String>> = None;
    let mut run_one = |index: usize, item: &Mutex<Option<X>>| {
        if stop.load(Ordering::Relaxed) {
            return (Outcome::Skipped, None);
        }
        if job
            .options
            .timeout_option()
            .is_some_and(|limit| origin.elapsed() > limit)
        {
            return (Outcome::Late, None);
        }
        let Some(item) = item.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            panic!("fanout: item {index} was handed out twice (a bug in fanout's MPI backend)")
        };
        let state = state.get_or_insert_with(|| {
            let free = job
                .states
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            free.unwrap_or_else(|| {
                let _name = name::enter(job.base.clone());
                job.task.try_start()
            })
        });
        let name = job.base.with_index(index);
        let rank = job.rank as u32;
        let state = match state {
            Ok(state) => state,
            Err(why) => {
                let failure = Err(Error::new(name.clone(), ErrorKind::Init(why.clone())));
                if M::stops_on(&failure) {
                    stop.store(true, Ordering::Relaxed);
                }
                let message = why.clone();
                return (Outcome::InitFailed { message, rank }, None);
            }
        };
        let _name = name::enter(name.clone());
        let began = origin.elapsed();
        let outcome =
            catch_unwind(AssertUnwindSafe(|| job.task.call(state, item))).map_err(|payload| {
                let message = panic_message(&*payload);
                Error::new(name, ErrorKind::Panic(message))
            });
        if M::stops_on(&outcome) {
            stop.store(true, Ordering::Relaxed);
        }
        let outcome = match outcome {
            Ok(value) => match catch_unwind(AssertUnwindSafe(|| encode(&value))) {
                Ok(Ok(bytes)) => Outcome::Done(bytes),
                Ok(Err(message)) => Outcome::Unencodable { message, rank },
                Err(payload) => Outcome::Panicked {
                    message: panic_message(&*payload),
                    rank,
                },
            },
            Err(failure) => Outcome::Panicked {
                message: failure.panic_message().unwrap_or_default().to_owned(),
                rank,
            },
        };
        (outcome, timeline.then(|| (began, origin.elapsed())))
    };
    let ran = items
        .iter()
        .enumerate()
        .map(|(k, item)| run_one(start + k, item))
        .unzip();
    if let Some(state) = state {
        // Kept for the rank's next chunk (a failed `init` too: it fails them).
        job.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(state);
    }
    ran
}

/// Rank 0's schedule: which items are handed out next.
struct Handout {
    len: usize,
    chunk: usize,
    next: Mutex<usize>,
    /// Set once an outcome stopped the map.
    stopped: AtomicBool,
    /// No chunk is handed out after this instant (`timeout`).
    deadline: Option<Instant>,
}

impl Handout {
    /// Rank 0's report (the progress bar and timeline of `len` items) and
    /// schedule for `job`, whose deadline counts from the report's origin.
    fn start<F: WorkerTask<X>, X, M>(job: &Job<'_, F, X, M>, len: usize) -> (Report, Handout) {
        let report = Report::new(
            job.options.timeline_enabled(),
            job.options.progress_enabled(),
        );
        report.expect(len);
        let origin = report.origin();
        let plan = Handout {
            len,
            chunk: job.chunk,
            next: Mutex::new(0),
            stopped: AtomicBool::new(false),
            deadline: job.options.timeout_option().map(|limit| origin + limit),
        };
        (report, plan)
    }

    /// The next chunk, or `None` when every item was handed out, the map
    /// stopped, or the deadline passed.
    fn grab(&self) -> Option<Range<usize>> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let start = *next;
        if start >= self.len
            || self.stopped.load(Ordering::Relaxed)
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() > deadline)
        {
            return None;
        }
        let size = self.chunk.clamp(1, self.len - start);
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

/// A message of the protocol between ranks (postcard).
fn encode_protocol<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap_or_else(|e| {
        panic!("fanout: pool_map!(...; mpi) cannot encode a message between ranks: {e}")
    })
}

fn decode_protocol<T: DeserializeOwned>(bytes: &[u8], what: &str, from: i32) -> T {
    postcard::from_bytes(bytes).unwrap_or_else(|e| {
        panic!(
            "fanout: pool_map!(...; mpi) cannot read {what} from MPI rank {from} ({e}): \
             do all ranks run the same program?"
        )
    })
}

/// An item's output, encoded on its own (the process boundary's codec).
fn encode<U: ProcessOutput>(value: &U) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    crate::codec::encode(value, &mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
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
