//! Streams in worker processes: `pool_map!(f, items; processes, stream)`
//! and `...; processes, unordered)` (Python's `Pool.imap` and
//! `imap_unordered`).
//!
//! The workers are copies of the caller's memory as it was when the stream
//! started, so `f` is only ever run there and needs nothing. The items are
//! pulled lazily in the parent, so they travel: each is encoded (the same
//! codec as the outputs, hence the same trait, [`ProcessOutput`]) and sent
//! on the worker's socket, and the worker answers with one frame. Beside
//! each worker process, the parent has one thread that takes its chunks
//! (the same rules as the thread streams), sends their items one at a time
//! and waits for each answer.
//!
//! The workers are forked by a fork server: a single-threaded process forked
//! when the stream starts, which holds the only copy of `f` that outlives the
//! call. The collecting pool forks its replacements from the caller, which
//! holds `f` until the map returns; a stream returns at once, and the caller's
//! `f` may be gone (or changed) when a worker must be replaced. The server
//! hands each worker's socket to the parent (`SCM_RIGHTS`) and reaps the
//! workers when the parent asks, with the collecting pool's `reap` and
//! `cause`, so a crash is reported in the same words. A worker process
//! that dies fails the item it was running, alone (as in the collecting
//! pool): the parent's thread asks the fork server to reap it (the cause, a
//! signal or an exit code, names the item's error) and, if there is another
//! item to run, for a fresh worker, which gets the next item; no item runs
//! twice. With `recycle = N`, the thread retires its worker after N items and
//! the next item gets a fresh one. Dropping the stream kills every worker
//! process; the threads reap them, and the fork server exits with the last
//! thread and is reaped.
//!
//! What comes back is untrusted: a frame's tag and length are checked
//! before anything is allocated, and the output is decoded from its own
//! bytes only.

use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Shared, Stream};
use crate::codec;
use crate::error::{Error, ErrorKind, panic_message};
use crate::map::mode::Mode;
use crate::map::plan::Stop;
use crate::map::processes::{DecodeFailure, cause, decode, end_channel, reap};
use crate::map::task::WorkerTask;
use crate::name::{self, WorkerName};
use crate::process::ProcessOutput;
use crate::sys::{self, Forks};

/// The largest item or answer a frame may carry.
const MAX_FRAME: u64 = 1 << 32;

/// Answer tags: the output follows.
const OUTPUT: u8 = 0;
/// The item panicked; the message follows.
const PANIC: u8 = 1;
/// The output could not be encoded; the reason follows.
const UNENCODABLE: u8 = 2;
/// The worker's `init` panicked; the message follows.
const INIT_FAILED: u8 = 3;
/// The item could not be decoded in the worker; the reason follows.
const BAD_ITEM: u8 = 4;

/// Fork server requests: fork a worker (`[SPAWN][0u32]`), answered
/// `[0][pid u32]` with the parent's end of its socket, or `[1][errno u32]`.
const SPAWN: u8 = 0;
/// Reap worker `pid` (`[REAP][pid u32]`), answered with how it ended
/// (`[kind][value i32]`, see [`encode_status`]).
const REAP: u8 = 1;

/// The parent's side of one worker process.
struct Child {
    pid: u32,
    channel: UnixStream,
}

/// The parent's side of the fork server. Dropped with the last thread that
/// feeds a worker: the server sees the end of its requests, kills and reaps
/// any worker left, and exits; it is reaped here.
struct Forker {
    pid: u32,
    /// One request at a time, answered before the next.
    control: Mutex<UnixStream>,
}

impl<M: Mode<U>, U: ProcessOutput + Send> Stream<M, U> {
    /// Forks the fork server (which holds `task`), and starts one thread
    /// per worker in the parent; each gets its worker process from the server
    /// when it has its first item.
    pub(super) fn start_processes<I, W>(
        shared: Arc<Shared<U>>,
        items: I,
        task: &W,
        recycle: Option<usize>,
    ) -> Stream<M, U>
    where
        I: Iterator + Send + 'static,
        I::Item: ProcessOutput + Send,
        W: WorkerTask<I::Item, Output = U>,
    {
        let workers = shared.plan.workers;
        let base = &shared.plan.base;
        let mut handles = Vec::with_capacity(workers);
        let mut no_worker = None;
        match fork_server::<I::Item, W>(base.clone(), task) {
            Ok(forker) => {
                let forker = Arc::new(forker);
                let items = Arc::new(Mutex::new(items));
                shared.lock().running = workers;
                for _ in 0..workers {
                    let (shared_for, items, forker) =
                        (Arc::clone(&shared), Arc::clone(&items), Arc::clone(&forker));
                    let feed = move || feed::<M, I, U>(&shared_for, &items, &forker, recycle);
                    match std::thread::Builder::new()
                        .name(format!("fanout-{base}"))
                        .spawn(feed)
                    {
                        Ok(handle) => handles.push(handle),
                        Err(error) => {
                            shared.lock().running -= 1;
                            no_worker = Some(format!("cannot start a thread: {error}"));
                        }
                    }
                }
            }
            Err(error) => {
                shared.lock().running = 0;
                no_worker = Some(format!("cannot start a worker process: {error}"));
            }
        }
        Stream {
            shared,
            no_worker: if handles.is_empty() { no_worker } else { None },
            workers: handles,
            ended: false,
            _mode: std::marker::PhantomData,
        }
    }
}

impl<U> Shared<U> {
    /// The pids of the worker processes not reaped yet.
    pub(super) fn children(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Kills the worker processes not reaped yet (their threads reap them).
    pub(super) fn kill_children(&self) {
        for pid in self.children().iter() {
            sys::kill(*pid);
        }
    }

    /// A fresh worker process from the fork server, unless the stream
    /// stopped: checked under the lock of the pids, so that a worker forked
    /// while the stream is dropped is killed with the others.
    fn spawn_child(&self, forker: &Forker) -> Option<io::Result<Child>> {
        let mut children = self.children();
        if !self.plan.may_start() {
            return None;
        }
        let child = forker.spawn();
        if let Ok(child) = &child {
            children.push(child.pid);
        }
        Some(child)
    }

    /// Ends `child` (the end of its commands tells it to exit, if it is
    /// still running) and has the fork server reap it, once no one can kill
    /// it any more: how it ended.
    fn retire(&self, forker: &Forker, child: Child) -> sys::Status {
        let Child { pid, channel } = child;
        end_channel(channel);
        self.children().retain(|p| *p != pid);
        forker.reap(pid)
    }
}

impl Forker {
    /// Sends a request and reads its 5-byte answer (with the descriptor
    /// that came with it), under the lock.
    fn ask(&self, op: u8, value: u32) -> io::Result<([u8; 5], Option<OwnedFd>)> {
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let mut request = [op, 0, 0, 0, 0];
        request[1..].copy_from_slice(&value.to_le_bytes());
        control.write_all(&request)?;
        let mut answer = [0u8; 5];
        let (got, fd) = sys::recv_with_fd(std::os::fd::AsFd::as_fd(&*control), &mut answer)?;
        if got == 0 {
            return Err(io::Error::other("the fork server of the stream is gone"));
        }
        control.read_exact(&mut answer[got..])?;
        Ok((answer, fd))
    }

    /// Forks a worker process in the fork server.
    fn spawn(&self) -> io::Result<Child> {
        let (answer, fd) = self.ask(SPAWN, 0)?;
        let value = u32::from_le_bytes([answer[1], answer[2], answer[3], answer[4]]);
        match (answer[0], fd) {
            (0, Some(fd)) if value > 0 => Ok(Child {
                pid: value,
                channel: UnixStream::from(fd),
            }),
            (1, _) => Err(io::Error::from_raw_os_error(value as i32)),
            _ => Err(io::Error::other("the fork server answered out of protocol")),
        }
    }

    /// Has the fork server reap its worker `pid`: how it ended.
    fn reap(&self, pid: u32) -> sys::Status {
        match self.ask(REAP, pid) {
            Ok((answer, _)) => decode_status(answer),
            Err(_) => sys::Status::Lost,
        }
    }
}

impl Drop for Forker {
    fn drop(&mut self) {
        let control = self
            .control
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = control.shutdown(std::net::Shutdown::Both);
        reap(self.pid);
    }
}

/// How a worker ended, as the fork server answers it.
fn encode_status(status: sys::Status) -> [u8; 5] {
    let (kind, value) = match status {
        sys::Status::Exited(code) => (0, code),
        sys::Status::Signaled(signal) => (1, signal),
        sys::Status::Lost => (2, 0),
    };
    let mut answer = [kind, 0, 0, 0, 0];
    answer[1..].copy_from_slice(&value.to_le_bytes());
    answer
}

fn decode_status(answer: [u8; 5]) -> sys::Status {
    let value = i32::from_le_bytes([answer[1], answer[2], answer[3], answer[4]]);
    match answer[0] {
        0 => sys::Status::Exited(value),
        1 => sys::Status::Signaled(value),
        _ => sys::Status::Lost,
    }
}

/// Forks the fork server of a stream: a single-threaded copy of the caller
/// that holds `task` and forks the workers.
fn fork_server<T, W>(base: WorkerName, task: &W) -> io::Result<Forker>
where
    T: ProcessOutput,
    W: WorkerTask<T>,
    W::Output: ProcessOutput,
{
    // The fork server ends when its socket does (the parent process ended,
    // or dropped the stream), not with the thread that made the stream: the
    // stream may be read on another.
    let group = sys::ForkGroup::probe().outliving_the_forking_thread();
    let mut forks = Forks::new(group);
    forks.hold();
    let (parent_end, child_end) = sys::socket_pair()?;
    let mut parent_end = Some(parent_end);
    let (pid, _) = forks.fork_with(child_end, |child_end| {
        drop(parent_end.take());
        serve::<T, W>(base, task, UnixStream::from(child_end))
    });
    drop(forks);
    let pid = pid?;
    let control = parent_end
        .take()
        .ok_or_else(|| io::Error::other("lost socket"))?;
    Ok(Forker {
        pid,
        control: Mutex::new(UnixStream::from(control)),
    })
}

/// The fork server: forks and reaps workers on request until the parent
/// closes its socket; then kills and reaps the workers left.
fn serve<T, W>(base: WorkerName, task: &W, control: UnixStream) -> i32
where
    T: ProcessOutput,
    W: WorkerTask<T>,
    W::Output: ProcessOutput,
{
    // Single-threaded: the probe reads /proc, no helper thread.
    let group = sys::ForkGroup::probe();
    let mut control = Some(control);
    let mut live: Vec<u32> = Vec::new();
    while let Some(channel) = control.as_mut() {
        let mut request = [0u8; 5];
        if channel.read_exact(&mut request).is_err() {
            break;
        }
        let value = u32::from_le_bytes([request[1], request[2], request[3], request[4]]);
        let answered = match request[0] {
            SPAWN => match fork_worker::<T, W>(base.clone(), task, group, &mut control) {
                Ok((pid, parent_end)) => {
                    live.push(pid);
                    let mut answer = [0u8; 5];
                    answer[1..].copy_from_slice(&pid.to_le_bytes());
                    control.as_ref().map(|channel| {
                        sys::send_with_fd(
                            std::os::fd::AsFd::as_fd(channel),
                            &answer,
                            std::os::fd::AsFd::as_fd(&parent_end),
                        )
                    })
                }
                Err(error) => {
                    let mut answer = [1u8; 5];
                    let errno = error.raw_os_error().unwrap_or(libc::EAGAIN) as u32;
                    answer[1..].copy_from_slice(&errno.to_le_bytes());
                    control.as_mut().map(|channel| channel.write_all(&answer))
                }
            },
            REAP => {
                // Only its own workers: a pid it did not fork is not waited for.
                let status = if live.contains(&value) {
                    live.retain(|pid| *pid != value);
                    reap(value)
                } else {
                    sys::Status::Lost
                };
                control
                    .as_mut()
                    .map(|channel| channel.write_all(&encode_status(status)))
            }
            _ => break,
        };
        if !matches!(answered, Some(Ok(()))) {
            break;
        }
    }
    for pid in &live {
        sys::kill(*pid);
    }
    for pid in live {
        sys::wait(pid, true);
    }
    0
}

/// Forks a worker in the fork server: its pid and the parent's end of its
/// socket (to pass to the parent).
fn fork_worker<T, W>(
    base: WorkerName,
    task: &W,
    group: sys::ForkGroup,
    control: &mut Option<UnixStream>,
) -> io::Result<(u32, OwnedFd)>
where
    T: ProcessOutput,
    W: WorkerTask<T>,
    W::Output: ProcessOutput,
{
    let mut forks = Forks::new(group);
    forks.hold();
    let (parent_end, child_end) = sys::socket_pair()?;
    let mut parent_end = Some(parent_end);
    let (pid, _) = forks.fork_with(child_end, |child_end| {
        // A worker holds its own socket only: the parent must see the end
        // of the fork server's socket, and the end of its commands, when it
        // closes them.
        drop(parent_end.take());
        drop(control.take());
        worker_loop::<T, W>(base, task, child_end)
    });
    drop(forks);
    let pid = pid?;
    let parent_end = parent_end
        .take()
        .ok_or_else(|| io::Error::other("lost socket"))?;
    Ok((pid, parent_end))
}

/// The worker process: runs the items sent on its socket until it ends.
fn worker_loop<T, W>(base: WorkerName, task: &W, channel: OwnedFd) -> i32
where
    T: ProcessOutput,
    W: WorkerTask<T>,
    W::Output: ProcessOutput,
{
    // Never closed: its end tells the parent that the worker exits.
    let mut channel = std::mem::ManuallyDrop::new(UnixStream::from(channel));
    let _name = name::enter(base);
    let mut state = task.try_start();
    let mut item = Vec::new();
    let mut frame = Vec::new();
    loop {
        let mut header = [0u8; 16];
        if channel.read_exact(&mut header).is_err() {
            return 0;
        }
        let index = word(&header[..8]);
        let len = word(&header[8..]);
        if len > MAX_FRAME {
            return 1;
        }
        item.clear();
        item.resize(len as usize, 0);
        if channel.read_exact(&mut item).is_err() {
            return 0;
        }
        frame.clear();
        frame.extend_from_slice(&[0; 9]);
        let restart = |frame: &mut Vec<u8>, tag: u8, text: &str| {
            frame.clear();
            frame.push(tag);
            frame.extend_from_slice(&[0; 8]);
            frame.extend_from_slice(text.as_bytes());
        };
        match &mut state {
            Err(why) => restart(&mut frame, INIT_FAILED, why),
            Ok(state) => match decode::<T>(&item) {
                Err(failure) => {
                    let why = format!(
                        "its item could not be decoded in the worker process: {}",
                        decode_why(failure)
                    );
                    restart(&mut frame, BAD_ITEM, &why);
                }
                Ok(value) => {
                    name::set_current_index(usize::try_from(index).unwrap_or(usize::MAX));
                    match catch_unwind(AssertUnwindSafe(|| task.call(state, value))) {
                        Ok(output) => {
                            let encoded = catch_unwind(AssertUnwindSafe(|| {
                                codec::encode(&output, &mut frame)
                            }));
                            match encoded {
                                Ok(Ok(())) => frame[0] = OUTPUT,
                                Ok(Err(error)) => {
                                    restart(&mut frame, UNENCODABLE, &error.to_string());
                                }
                                Err(payload) => {
                                    restart(&mut frame, PANIC, &panic_message(&*payload));
                                    std::mem::forget(payload);
                                }
                            }
                            // The parent has its own copy; the process ends soon.
                            std::mem::forget(output);
                        }
                        Err(payload) => {
                            restart(&mut frame, PANIC, &panic_message(&*payload));
                            std::mem::forget(payload);
                        }
                    }
                }
            },
        }
        let len = (frame.len() - 9) as u64;
        frame[1..9].copy_from_slice(&len.to_le_bytes());
        if channel.write_all(&frame).is_err() {
            return 0;
        }
    }
}

/// Why bytes could not be decoded.
fn decode_why(failure: DecodeFailure) -> String {
    match failure {
        DecodeFailure::Invalid(why) => why.to_string(),
        DecodeFailure::Panicked(message) => format!("its `Deserialize` panicked: {message}"),
    }
}

fn word(bytes: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(bytes);
    u64::from_le_bytes(raw)
}

/// The parent's thread of one worker process: takes chunks, sends their
/// items, and puts each answer. It gets its worker from the fork server for
/// its first item, and a fresh one after its worker died (or, with
/// `recycle = N`, ran N items); it retires the last at the end.
fn feed<M, I, U>(shared: &Shared<U>, items: &Mutex<I>, forker: &Forker, recycle: Option<usize>)
where
    M: Mode<U>,
    I: Iterator,
    I::Item: ProcessOutput,
    U: ProcessOutput,
{
    /// Counts the thread out, whatever happens.
    struct Exit<'a, U>(&'a Shared<U>);
    impl<U> Drop for Exit<'_, U> {
        fn drop(&mut self) {
            self.0.lock().running -= 1;
            self.0.arrived.notify_one();
        }
    }
    let _exit = Exit(shared);
    let base = &shared.plan.base;
    let mut worker: Option<Child> = None;
    // Items sent to the current worker (for `recycle`).
    let mut given = 0usize;
    let mut buf = Vec::new();
    while let Some((first, chunk)) = shared.take::<M, I>(items) {
        for (index, item) in (first..).zip(chunk) {
            // Built only when needed: a name computed at run time costs a
            // reference count per copy.
            let name = || base.with_index(index);
            if worker.is_none() {
                match shared.spawn_child(forker) {
                    None => {}
                    Some(Ok(child)) => {
                        worker = Some(child);
                        given = 0;
                    }
                    Some(Err(error)) => {
                        let why = format!("cannot start a worker process: {error}");
                        let outcome = Err(Error::new(name(), ErrorKind::Spawn(why)));
                        if M::stops_on(&outcome) {
                            shared.plan.stop(Stop::Failed);
                        }
                        shared.put(index, Some(outcome));
                        continue;
                    }
                }
            }
            let Some(child) = worker.as_mut().filter(|_| shared.plan.may_start()) else {
                shared.put(index, None);
                continue;
            };
            let started = if shared.report.timeline_enabled() {
                shared.report.start(name())
            } else {
                crate::report::Started::none()
            };
            let pid = child.pid;
            let outcome = match ask(child, index, &item, &mut buf) {
                Ok(outcome) => outcome.map_err(|kind| Error::new(name(), kind).with_pid(pid)),
                Err(Lost::Item(why)) => Err(Error::new(name(), ErrorKind::Transport(why))),
                Err(Lost::Worker) => {
                    // It died (or broke the protocol and was killed): the
                    // next item gets a fresh worker.
                    let status = worker
                        .take()
                        .map_or(sys::Status::Lost, |child| shared.retire(forker, child));
                    Err(Error::new(name(), cause(status)).with_pid(pid))
                }
            };
            shared.report.end(started);
            given += 1;
            if recycle.is_some_and(|limit| given >= limit)
                && let Some(child) = worker.take()
            {
                shared.retire(forker, child);
            }
            if M::stops_on(&outcome) {
                shared.plan.stop(Stop::Failed);
            }
            shared.put(index, Some(outcome));
        }
    }
    if let Some(child) = worker.take() {
        shared.retire(forker, child);
    }
}

/// Why an item got no answer.
enum Lost {
    /// The item itself could not be sent (it could not be serialized).
    Item(String),
    /// The worker process is gone, or broke the protocol (it is killed).
    Worker,
}

/// Sends item `index` to the worker and reads its answer: the output, or
/// why the item failed.
fn ask<T, U>(
    child: &mut Child,
    index: usize,
    item: &T,
    buf: &mut Vec<u8>,
) -> Result<Result<U, ErrorKind>, Lost>
where
    T: ProcessOutput,
    U: ProcessOutput,
{
    buf.clear();
    buf.extend_from_slice(&[0; 16]);
    match catch_unwind(AssertUnwindSafe(|| codec::encode(item, buf))) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(Lost::Item(format!(
                "its item could not be serialized: {error}"
            )));
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            std::mem::forget(payload);
            return Err(Lost::Item(format!(
                "its item's `Serialize` panicked: {message}"
            )));
        }
    }
    let len = (buf.len() - 16) as u64;
    buf[..8].copy_from_slice(&(index as u64).to_le_bytes());
    buf[8..16].copy_from_slice(&len.to_le_bytes());
    if child.channel.write_all(buf).is_err() {
        return Err(Lost::Worker);
    }
    let mut header = [0u8; 9];
    if child.channel.read_exact(&mut header).is_err() {
        return Err(Lost::Worker);
    }
    let tag = header[0];
    let len = word(&header[1..]);
    if len > MAX_FRAME || tag > BAD_ITEM {
        sys::kill(child.pid);
        return Err(Lost::Worker);
    }
    buf.clear();
    buf.resize(len as usize, 0);
    if child.channel.read_exact(buf).is_err() {
        return Err(Lost::Worker);
    }
    let text = || String::from_utf8_lossy(buf).into_owned();
    Ok(match tag {
        OUTPUT => decode::<U>(buf).map_err(|failure| ErrorKind::Decode(decode_why(failure))),
        PANIC => Err(ErrorKind::Panic(text())),
        UNENCODABLE => Err(ErrorKind::Encode(text())),
        INIT_FAILED => Err(ErrorKind::Init(text())),
        _ => Err(ErrorKind::Transport(text())),
    })
}
