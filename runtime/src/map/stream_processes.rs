//! Streams in worker processes: `pool_map!(f, items; processes, stream)`
//! and `...; processes, unordered)` (Python's `Pool.imap` and
//! `imap_unordered`).
//!
//! The workers are forked when the stream starts, so `f` is only ever run
//! in their copies of the caller's memory and needs nothing. The items are
//! pulled lazily in the parent, so they travel: each is encoded (the same
//! codec as the outputs, hence the same trait, [`ProcessOutput`]) and sent
//! on the worker's socket, and the worker answers with one frame. Beside
//! each worker process, the parent has one thread that takes its chunks
//! (the same rules as the thread streams), sends their items one at a time
//! and waits for each answer.
//!
//! A worker process that dies fails the item it was running; the rest of its
//! chunk fails with it, and it is not replaced (its `f` exists only in the
//! forked copies): the other workers go on. Dropping the stream kills and
//! reaps every worker process.
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
use crate::map::processes::{DecodeFailure, cause, decode, reap};
use crate::map::task::WorkerTask;
use crate::name::{self, WorkerName};
use crate::process::ProcessOutput;
use crate::sys::{self, ForkLock};

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

/// The parent's side of one worker process.
struct Child {
    pid: u32,
    channel: UnixStream,
}

impl<M: Mode<U>, U: ProcessOutput + Send> Stream<M, U> {
    /// Forks `workers` worker processes that run `task`, and one thread per
    /// worker in the parent that feeds it.
    pub(super) fn start_processes<I, W>(shared: Arc<Shared<U>>, items: I, task: &W) -> Stream<M, U>
    where
        I: Iterator + Send + 'static,
        I::Item: ProcessOutput + Send,
        W: WorkerTask<I::Item, Output = U>,
    {
        let workers = shared.plan.workers;
        let base = &shared.plan.base;
        let mut children: Vec<Option<Child>> = Vec::with_capacity(workers);
        let mut no_worker = None;
        for _ in 0..workers {
            match fork_worker::<I::Item, W>(base.clone(), task, &mut children) {
                Ok(child) => {
                    shared.children().push(child.pid);
                    children.push(Some(child));
                }
                Err(error) => no_worker = Some(format!("cannot start a worker process: {error}")),
            }
        }
        let items = Arc::new(Mutex::new(items));
        let mut handles = Vec::with_capacity(workers);
        shared.lock().running = children.len();
        for child in children.into_iter().flatten() {
            let (shared_for, items) = (Arc::clone(&shared), Arc::clone(&items));
            let feed = move || feed::<M, I, U>(&shared_for, &items, child);
            match std::thread::Builder::new()
                .name(format!("fanout-{base}"))
                .spawn(feed)
            {
                Ok(handle) => handles.push(handle),
                // The closure, and with it the child's socket, is dropped:
                // the child sees the end of its commands and exits; the
                // stream's end reaps it.
                Err(error) => {
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

    /// Reaps `pid`, once no one can kill it any more.
    fn reap_child(&self, pid: u32) -> sys::Status {
        self.children().retain(|p| *p != pid);
        reap(pid)
    }
}

fn fork_worker<T, W>(base: WorkerName, task: &W, others: &mut [Option<Child>]) -> io::Result<Child>
where
    T: ProcessOutput,
    W: WorkerTask<T>,
    W::Output: ProcessOutput,
{
    let group = sys::ForkGroup::probe();
    let lock = ForkLock::acquire();
    let (parent_end, child_end) = sys::socket_pair()?;
    let mut parent_end = Some(parent_end);
    let (pid, _) = lock.fork_with(group, child_end, |child_end| {
        // The parent's ends of every worker's socket: a worker must see the
        // end of its commands when the parent closes them.
        drop(parent_end.take());
        for other in others.iter_mut() {
            drop(other.take());
        }
        worker_loop::<T, W>(base, task, child_end)
    });
    let pid = pid?;
    let channel = UnixStream::from(
        parent_end
            .take()
            .ok_or_else(|| io::Error::other("lost socket"))?,
    );
    Ok(Child { pid, channel })
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
    // `ps` lists the worker process under the map's name.
    crate::thread_name::name_os_thread(&base);
    let _name = name::enter(base.clone());
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
                            // Named after the item while its panic was reported.
                            crate::thread_name::name_os_thread(&base);
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
/// items, and puts each answer; reaps the worker at the end.
fn feed<M, I, U>(shared: &Shared<U>, items: &Mutex<I>, mut child: Child)
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
    let mut alive = true;
    let mut buf = Vec::new();
    while let Some((first, chunk)) = shared.take::<M, I>(items) {
        for (index, item) in (first..).zip(chunk) {
            if !shared.plan.may_start() {
                shared.put(index, None);
                continue;
            }
            // Built only when needed: a name computed at run time costs a
            // reference count per copy.
            let name = || base.with_index(index);
            let outcome = if alive {
                let started = if shared.report.timeline_enabled() {
                    shared.report.start(name())
                } else {
                    crate::report::Started::none()
                };
                let outcome = match ask(&mut child, index, &item, &mut buf) {
                    Ok(outcome) => {
                        outcome.map_err(|kind| Error::new(name(), kind).with_pid(child.pid))
                    }
                    Err(Lost::Item(why)) => Err(Error::new(name(), ErrorKind::Transport(why))),
                    Err(Lost::Worker) => {
                        alive = false;
                        let status = shared.reap_child(child.pid);
                        Err(Error::new(name(), cause(status)).with_pid(child.pid))
                    }
                };
                shared.report.end(started);
                outcome
            } else {
                Err(Error::new(
                    name(),
                    ErrorKind::Transport("its worker process died before it could run".to_owned()),
                )
                .with_pid(child.pid))
            };
            if M::stops_on(&outcome) {
                shared.plan.stop(Stop::Failed);
            }
            shared.put(index, Some(outcome));
        }
        if !alive {
            break;
        }
    }
    if alive {
        // The end of its commands: the worker exits.
        let Child { pid, channel } = child;
        drop(channel);
        shared.reap_child(pid);
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
