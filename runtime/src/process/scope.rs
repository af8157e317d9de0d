//! `spawn_processes!`: one forked child per task, in a scope that reaps every
//! child before it returns.

use std::cell::{Cell, RefCell};
use std::io::{self, PipeReader, PipeWriter, Read as _, Write as _};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use super::wire::{self, Message};
use super::{CHECK_EVERY, ProcessOptions, ProcessOutput};
use crate::codec;
use crate::error::{Error, ErrorKind, panic_message};
use crate::name::{self, WorkerName};
use crate::outcome::RaceEnd;
use crate::report::{Report, Span};
use crate::sys::{self, ForkGroup, Forks, Status};
use crate::task::Task;
use crate::thread_name::OsName;

/// A scope in which tasks are spawned in child processes; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    inner: Inner,
    // Invariant lifetimes, as in `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// Runs `body` with a [`Scope`] for spawning tasks in child processes, reaps
/// every child spawned in it, and returns what `body` returned.
///
/// This is `spawn_processes!(a, b)` without the macro:
///
/// ```
/// use fanout::{WorkerName, process};
///
/// let data = vec![1, 2, 3];
/// let (sum, pid) = process::scope(&process::ProcessOptions::new(), |s| {
///     let sum = s.spawn(WorkerName::new("sum"), || data.iter().sum::<i32>());
///     let pid = s.spawn(WorkerName::new("pid"), std::process::id);
///     (sum.join(), pid.join())
/// });
/// assert_eq!(sum.unwrap(), 6);
/// assert_ne!(pid.unwrap(), std::process::id());
/// ```
///
/// The first [`ChildHandle::join`] reads the pipes of every child spawned so far,
/// until all of them ended (or the `timeout` passed), so that no child waits
/// on a full pipe while the parent waits for another.
///
/// # Panics
///
/// If `body` panics (a task's capture whose `Drop` panics in the parent, a
/// panic while reading an output back, ...), the children still running are
/// killed, every child is reaped, and then the panic is carried on: no child
/// outlives the scope. A failing child never makes `scope` panic: its failure
/// is the `Err` of its [`ChildHandle::join`].
pub fn scope<'env, F, R>(options: &ProcessOptions, body: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let report = Report::new(options.timeline, options.progress);
    let scope = Scope {
        inner: Inner {
            children: RefCell::new(Children {
                deadline: options
                    .timeout
                    .map(|limit| (report.origin() + limit, limit)),
                list: Vec::new(),
                polled: Vec::new(),
            }),
            report,
            group: Cell::new(None),
        },
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| body(&scope)));
    if result.is_err() {
        scope.inner.children.borrow_mut().kill_running();
    }
    scope.inner.wait_all();
    scope.inner.report.finish("spawn_processes!");
    match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Forks a child that runs `task` as the worker `name` and sends its
    /// output back; returns the handle to [`join`](ChildHandle::join).
    ///
    /// The task runs in the child at once, on a copy of the caller's memory,
    /// so it may borrow locals and capture values that are not `Send`. If the
    /// fork fails, the handle's outcome is an [`ErrorKind::Spawn`] error.
    pub fn spawn<T, W>(&'scope self, name: WorkerName, task: W) -> ChildHandle<'scope, T>
    where
        W: Task<Output = T>,
        T: ProcessOutput,
    {
        let mut forks = Forks::new(self.inner.group());
        let index = self
            .inner
            .launch(&mut forks, name, move |pipe, name, os_name| {
                run_child(name, os_name, task, pipe)
            });
        ChildHandle {
            inner: &self.inner,
            index,
            outcome: Child::outcome::<T>,
        }
    }

    /// Sets the number of tasks the progress bar counts to.
    pub fn expect(&self, total: usize) {
        self.inner.report.expect(total);
    }
}

/// What a [`Scope`] holds: its children and its report.
struct Inner {
    children: RefCell<Children>,
    report: Report,
    /// What the forks share (the state of the stdio locks, ...), probed at
    /// the first fork.
    group: Cell<Option<ForkGroup>>,
}

impl Inner {
    /// The group of the scope's forks, probed at the first.
    fn group(&self) -> ForkGroup {
        match self.group.get() {
            Some(group) => group,
            None => {
                let group = ForkGroup::probe();
                self.group.set(Some(group));
                reserve_message();
                group
            }
        }
    }

    /// Forks a child, one of the run of `forks`, that runs `child` with the
    /// write end of its pipe, its name, and its name as the system keeps it
    /// (made here, before the fork). The name is not a capture of
    /// `child`: what `child` captures is dropped with nothing held if it
    /// needs dropping ([`Forks::drop_outside`]), and a name (which may hold
    /// an `Arc`) would always need it.
    fn launch(
        &self,
        forks: &mut Forks,
        name: WorkerName,
        child: impl FnOnce(OwnedFd, WorkerName, OsName) -> i32,
    ) -> usize {
        let os_name = crate::thread_name::os_name(&name);
        forks.hold();
        let (forked, task) = match sys::pipe() {
            Ok((read, write)) => {
                let forked_at = Instant::now();
                let ends = (write, name.clone());
                let (pid, task) = forks.fork_with(ends, |(pipe, name)| child(pipe, name, os_name));
                (pid.map(|pid| (pid, read, forked_at)), Some(task))
            }
            Err(error) => {
                forks.release();
                (Err(error), None)
            }
        };
        let record = match forked {
            Ok((pid, read, forked_at)) => {
                // The pipe stays blocking: it is read once per `poll` that
                // found it ready, which does not block (see `Child::read`).
                Child {
                    name,
                    pid,
                    pipe: Some(PipeReader::from(read)),
                    bytes: Vec::new(),
                    status: None,
                    timed_out: None,
                    spawn_error: None,
                    forked_at,
                    ended_at: None,
                    reported: false,
                }
            }
            Err(error) => Child::failed(
                name.clone(),
                Error::new(name, ErrorKind::Spawn(error.to_string())),
            ),
        };
        let index = {
            let mut children = self.children.borrow_mut();
            children.list.push(record);
            children.list.len() - 1
        };
        // The task's captures are dropped in the parent with no lock held,
        // and only once the child is recorded: if a destructor panics, the
        // scope kills and reaps the child before carrying the panic on.
        forks.drop_outside(task);
        index
    }

    /// Reads every child's pipe until all ended, then reaps them.
    fn wait_all(&self) {
        let mut children = self.children.borrow_mut();
        children.wait_all();
        for child in &mut children.list {
            if child.status.is_some() && !child.reported {
                child.reported = true;
                if self.report.timeline_enabled() {
                    let origin = self.report.origin();
                    self.report.record(Span {
                        name: child.name.clone(),
                        start: child.forked_at.saturating_duration_since(origin),
                        end: child
                            .ended_at
                            .unwrap_or_else(Instant::now)
                            .saturating_duration_since(origin),
                        place: format!("pid {}", child.pid),
                    });
                }
                self.report.advance(1);
            }
        }
    }
}

/// The room a child's message has before it grows: a number, a short
/// string, a small struct.
const MESSAGE_CAPACITY: usize = 256;

thread_local! {
    /// An empty buffer with room for a child's message, made once per
    /// forking thread ([`reserve_message`]) and taken by each child forked
    /// from it: a child that calls the allocator writes to its pages, and
    /// each page a child writes is copied (a page fault and 4 KiB per child).
    static MESSAGE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Makes the buffer of [`MESSAGE`] on this thread, if not made yet: once
/// per scope, in the parent, before its first fork.
fn reserve_message() {
    MESSAGE.with(|message| {
        let mut buffer = message.take();
        if buffer.capacity() < MESSAGE_CAPACITY {
            buffer = Vec::with_capacity(MESSAGE_CAPACITY);
        }
        message.set(buffer);
    });
}

/// The child's side: run the task, send its output, return the exit code.
fn run_child<W: Task>(name: WorkerName, os_name: OsName, task: W, pipe: OwnedFd) -> i32
where
    W::Output: ProcessOutput,
{
    // `ps` lists the child under its worker's name.
    crate::thread_name::name_os_thread_as(os_name);
    let _name = name::enter(name);
    // Never closed: the end of the pipe, at `_exit`, tells the parent that
    // the child is exiting, and may be reaped without waiting long. (On the
    // stack: a child that allocates nothing copies fewer pages.)
    let pipe = ManuallyDrop::new(pipe);
    if cfg!(panic = "abort")
        && let Ok(copy) = pipe.try_clone()
    {
        send_panics_before_abort(PipeWriter::from(copy));
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| task.run()));
    let mut message = MESSAGE.with(Cell::take);
    message.clear();
    let code = match outcome {
        Ok(output) => {
            // A `Vec<u8>` or `String`: its tag, then its own bytes, not
            // copied into the message.
            if let Some((tag, raw)) = codec::raw(&output) {
                let header = [wire::OUTPUT, tag];
                let sent = sys::write_all(pipe.as_fd(), &header)
                    .and_then(|()| sys::write_all(pipe.as_fd(), raw));
                std::mem::forget(output);
                std::mem::forget(message);
                return if sent.is_ok() { 0 } else { sys::PANIC_EXIT };
            }
            // A number or a bool: its message made on the stack (fixed-size
            // moves, no call into the allocator or `memcpy`, whose code
            // and pages the child would otherwise fault in).
            if let Some(payload) = codec::encode_scalar(&output) {
                let mut small = [0u8; 11];
                small[0] = wire::OUTPUT;
                small[1..].copy_from_slice(payload.all());
                let len = 1 + payload.as_slice().len();
                std::mem::forget(message);
                return match sys::write_all(pipe.as_fd(), &small[..len]) {
                    Ok(()) => 0,
                    Err(_) => sys::PANIC_EXIT,
                };
            }
            // A `Serialize` impl may panic too: that is the task's panic.
            let sent = catch_unwind(AssertUnwindSafe(|| {
                wire::put_output(&mut message, &output);
            }));
            // The parent has its own copy; the process ends now.
            std::mem::forget(output);
            match sent {
                Ok(()) => 0,
                Err(payload) => {
                    message = panic_frame(&panic_message(&*payload));
                    std::mem::forget(payload);
                    sys::PANIC_EXIT
                }
            }
        }
        Err(payload) => {
            message = panic_frame(&panic_message(&*payload));
            std::mem::forget(payload);
            sys::PANIC_EXIT
        }
    };
    let _ = sys::write_all(pipe.as_fd(), &message);
    // Not freed: `free` would write to the allocator's pages too.
    std::mem::forget(message);
    code
}

/// The message that tells the parent the task panicked with `text`.
fn panic_frame(text: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(text.len() + 1);
    wire::put_text(&mut message, wire::PANIC, text);
    message
}

/// Under `panic = "abort"` a panic ends the child before `run_child` can send
/// its message: a panic hook, set in the child only, sends it to the parent
/// first, then runs the hook that was set before (which prints it).
///
/// Only this child's own panics are sent: a process it forks (a nested
/// `spawn_processes!` or pool) inherits the hook, and a panic there is that
/// process's, reported by its own hook to its own parent.
fn send_panics_before_abort(pipe: PipeWriter) {
    let owner = std::process::id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::process::id() == owner {
            let text = panic_message(info.payload());
            let _ = (&pipe).write_all(&panic_frame(&text));
        }
        previous(info);
    }));
}

/// A task running in a child process; [`join`](ChildHandle::join) waits for its
/// outcome.
pub struct ChildHandle<'scope, T> {
    inner: &'scope Inner,
    index: usize,
    /// Decodes the output (a function pointer, so that `join` has no bound
    /// of its own to fail again when `T` is not serializable).
    outcome: fn(&mut Child) -> Result<T, Error>,
}

impl<T> ChildHandle<'_, T> {
    /// The worker's name.
    pub fn name(&self) -> WorkerName {
        self.inner.children.borrow().list[self.index].name.clone()
    }

    /// The child's process id (0 if it could not be forked).
    pub fn pid(&self) -> u32 {
        self.inner.children.borrow().list[self.index].pid
    }

    /// Waits until the child ended (reading the pipes of every child of the
    /// scope meanwhile), reaps it, and returns its output, or the [`Error`]
    /// that says how it failed: its panic message, its exit code, the signal
    /// that killed it, or the timeout.
    pub fn join(self) -> Result<T, Error> {
        self.inner.wait_all();
        let mut children = self.inner.children.borrow_mut();
        (self.outcome)(&mut children.list[self.index])
    }
}

/// How long a child whose pipe ended has to become a zombie before the
/// deadline kills it; see [`Children::reap`].
const EXIT_GRACE: Duration = Duration::from_millis(50);

/// Every child of a scope.
struct Children {
    /// The deadline and the limit it came from.
    deadline: Option<(Instant, Duration)>,
    list: Vec<Child>,
    /// Reused by `poll`.
    polled: Vec<(libc::pollfd, usize)>,
}

struct Child {
    name: WorkerName,
    pid: u32,
    /// The read end of the child's pipe, until the end of its output.
    pipe: Option<PipeReader>,
    bytes: Vec<u8>,
    /// Set once the child was reaped.
    status: Option<Status>,
    timed_out: Option<Duration>,
    spawn_error: Option<Error>,
    forked_at: Instant,
    ended_at: Option<Instant>,
    reported: bool,
}

impl Child {
    fn failed(name: WorkerName, error: Error) -> Self {
        Child {
            name,
            pid: 0,
            pipe: None,
            bytes: Vec::new(),
            status: Some(Status::Lost),
            timed_out: None,
            spawn_error: Some(error),
            forked_at: Instant::now(),
            ended_at: Some(Instant::now()),
            reported: false,
        }
    }

    /// Reads what the pipe holds, after `poll` found it ready: one `read`,
    /// which does not block then (a ready pipe has bytes, or is at its end).
    /// Closes the pipe at its end.
    fn read(&mut self) {
        self.read_some(false);
    }

    /// Reads until the pipe would block or ends; the pipe must be
    /// non-blocking (see `Children::check_ended`).
    fn read_left(&mut self) {
        self.read_some(true);
    }

    /// Plain `read(2)` calls (`read_to_end` would first ask the pipe's
    /// size: `statx` and `lseek` per child): into a small stack buffer, and
    /// straight into the output once it is large (a full pipe a read).
    fn read_some(&mut self, until_blocked: bool) {
        const LARGE: usize = 64 << 10;
        let Some(pipe) = &mut self.pipe else { return };
        let mut small = [0u8; 4096];
        loop {
            let read = if self.bytes.len() < small.len() {
                pipe.read(&mut small)
                    .inspect(|&n| self.bytes.extend_from_slice(&small[..n]))
            } else {
                // A large output: the pipe is read into the output's own
                // buffer (zeroed once, then cut to what was read).
                let at = self.bytes.len();
                self.bytes.resize(at + LARGE, 0);
                let read = pipe.read(&mut self.bytes[at..]);
                self.bytes.truncate(at + *read.as_ref().unwrap_or(&0));
                read
            };
            match read {
                Ok(0) => break,
                Ok(_) => {
                    if !until_blocked {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // An error that ends the output.
                Err(_) => break,
            }
        }
        self.pipe = None;
        self.ended_at = Some(Instant::now());
    }

    /// The task's output, or why there is none.
    fn outcome<T: ProcessOutput>(&mut self) -> Result<T, Error> {
        if let Some(error) = self.spawn_error.take() {
            return Err(error);
        }
        let (name, pid) = (self.name.clone(), self.pid);
        let fail = |kind| Err(Error::new(name.clone(), kind).with_pid(pid));
        if let Some(limit) = self.timed_out {
            return fail(ErrorKind::Timeout(limit));
        }
        let bytes = std::mem::take(&mut self.bytes);
        // An output counts only from a child that then exited cleanly: one
        // killed while it wrote may have sent part of it, and a `Vec<u8>` or
        // `String` cut short would still read as one.
        let clean = matches!(self.status, Some(Status::Exited(0) | Status::Lost));
        match wire::only_owned::<T>(bytes) {
            Some(Message::Output(output)) if clean => Ok(output),
            Some(Message::Failed(kind)) => fail(kind),
            Some(Message::Undecodable(failure)) => Err(failure.named(self.name.clone(), self.pid)),
            // No message, or an output from a child that did not end well:
            // how it ended.
            Some(Message::Output(_)) | None => match self.status {
                Some(status) => fail(wire::cause(status)),
                None => fail(ErrorKind::Transport(
                    "the process was not reaped".to_owned(),
                )),
            },
        }
    }
}

impl Children {
    fn wait_all(&mut self) {
        self.read_all();
        self.reap_all();
    }

    /// Reads every open pipe until each reached its end (or its child ended),
    /// killing the children still running at the deadline.
    fn read_all(&mut self) {
        while self.read_step() {}
    }

    /// One wait for the open pipes (at most [`CHECK_EVERY`]) and what they
    /// hold; `false` once no pipe is open (all ended, or the deadline passed
    /// and the children still running were killed).
    fn read_step(&mut self) -> bool {
        {
            let now = Instant::now();
            if let Some((deadline, limit)) = self.deadline
                && now >= deadline
            {
                // A child that ended in time keeps its output, however long
                // the parent took to look (forking the others, say): the
                // ended are reaped and read, then every pipe is read as far
                // as it goes (one that ends is a child exiting: it is reaped
                // with a grace, see `reap`). The children still running are
                // killed.
                self.check_ended();
                for child in &mut self.list {
                    if let Some(pipe) = &child.pipe
                        && child.status.is_none()
                        && sys::set_nonblocking(pipe.as_fd()).is_ok()
                    {
                        child.read_left();
                    }
                }
                for child in &mut self.list {
                    if child.pipe.is_some() && child.status.is_none() {
                        sys::kill(child.pid);
                        child.timed_out = Some(limit);
                        child.pipe = None;
                        child.ended_at = Some(now);
                    }
                }
                return false;
            }
            self.polled.clear();
            for (index, child) in self.list.iter().enumerate() {
                if let Some(pipe) = &child.pipe {
                    let fd = libc::pollfd {
                        fd: pipe.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    self.polled.push((fd, index));
                }
            }
            if self.polled.is_empty() {
                return false;
            }
            let wait = match self.deadline {
                Some((deadline, _)) => CHECK_EVERY.min(deadline - now),
                None => CHECK_EVERY,
            };
            let mut fds: Vec<libc::pollfd> = self.polled.iter().map(|(fd, _)| *fd).collect();
            match sys::poll(&mut fds, Some(wait)) {
                Ok(0) => self.check_ended(),
                Ok(_) => {
                    for (fd, (_, index)) in fds.iter().zip(&self.polled) {
                        if fd.revents != 0 {
                            self.list[*index].read();
                        }
                    }
                }
                Err(_) => {
                    // poll itself failed (out of memory?): fall back to
                    // waiting for each child, then reading what it left.
                    std::thread::sleep(Duration::from_millis(1));
                    self.check_ended();
                }
            }
            true
        }
    }

    /// Reaps the children whose pipe stays open although they ended (a copy
    /// of its write end lives in another process), and reads what they left.
    fn check_ended(&mut self) {
        for child in &mut self.list {
            if child.pipe.is_some()
                && child.status.is_none()
                && let Some(status) = sys::wait(child.pid, false)
            {
                child.status = Some(status);
                // Everything the child wrote is in the pipe now; another
                // process may hold its write end open, so read without
                // blocking (or not at all if that cannot be set).
                if let Some(pipe) = &child.pipe
                    && sys::set_nonblocking(pipe.as_fd()).is_ok()
                {
                    child.read_left();
                }
                child.pipe = None;
            }
        }
    }

    /// Reaps every child. Each one's output ended or it was killed. A child
    /// that keeps its pipe open until `_exit` ends soon after, but one may
    /// have closed its pipe (or `exec`ed another program) and run on: with a
    /// deadline, such a child is waited for without blocking until then, and
    /// killed and reported as timed out at it.
    fn reap_all(&mut self) {
        let deadline = self.deadline;
        for child in &mut self.list {
            Children::reap(child, deadline);
        }
    }

    /// Reaps `child` (see [`reap_all`](Children::reap_all)).
    fn reap(child: &mut Child, deadline: Option<(Instant, Duration)>) {
        {
            if child.status.is_some() {
                return;
            }
            let Some((deadline, limit)) = deadline else {
                // No deadline: waiting for as long as the child runs is what
                // was asked for.
                child.status = Some(sys::wait(child.pid, true).unwrap_or(Status::Lost));
                return;
            };
            // A child whose pipe was seen to end at the deadline or after it
            // is exiting (its pipe ends at `_exit`): it has a moment to be
            // reaped before it counts as still running. One that closed its
            // pipe long before and runs on is killed at the deadline.
            let deadline = match child.ended_at {
                Some(ended) if child.timed_out.is_none() => deadline.max(ended + EXIT_GRACE),
                _ => deadline,
            };
            // Short at first: a child that closed its pipe at `_exit` is a
            // zombie within microseconds.
            let mut pause = Duration::from_micros(20);
            loop {
                if let Some(status) = sys::wait(child.pid, false) {
                    child.status = Some(status);
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    sys::kill(child.pid);
                    child.timed_out = Some(limit);
                    child.ended_at.get_or_insert(now);
                    // Killed: it ends now.
                    child.status = Some(sys::wait(child.pid, true).unwrap_or(Status::Lost));
                    break;
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(CHECK_EVERY / 10);
            }
        }
    }

    /// Kills every child not reaped yet (the scope's body panicked); they are
    /// reaped by `wait_all`.
    fn kill_running(&mut self) {
        for child in &mut self.list {
            if child.status.is_none() {
                sys::kill(child.pid);
            }
        }
    }
}

impl Drop for Children {
    /// A last resort, if waiting panicked: no child outlives its scope.
    fn drop(&mut self) {
        for child in &mut self.list {
            if child.status.is_none() {
                sys::kill(child.pid);
                child.status = sys::wait(child.pid, true);
            }
        }
    }
}

/// Races the tasks that `body` spawns in child processes (`spawn_processes!(a,
/// b; race)`): returns the output of the first child to finish with an output
/// that `wins` (every output, or with `try` an `Ok`), once every other child
/// was killed and reaped; or, if none won, every child's outcome in task order
/// (failed, or timed out at the `timeout`). Python's `asyncio.wait(...,
/// return_when=FIRST_COMPLETED)`, for processes.
///
/// ```
/// use std::time::{Duration, Instant};
/// use fanout::{WorkerName, outcome::RaceEnd, process};
///
/// let start = Instant::now();
/// let end = process::race(&process::ProcessOptions::new(), process::any_output, |s| {
///     vec![
///         s.spawn(WorkerName::new("slow"), || { std::thread::sleep(Duration::from_secs(10)); 1 }),
///         s.spawn(WorkerName::new("fast"), || 2),
///     ]
/// });
/// assert!(matches!(end, RaceEnd::Won(2)));
/// assert!(start.elapsed() < Duration::from_secs(5)); // the slow child was killed
/// ```
pub fn race<'env, T, F>(options: &ProcessOptions, wins: fn(&T) -> bool, body: F) -> RaceEnd<T>
where
    T: ProcessOutput,
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> Vec<ChildHandle<'scope, T>>,
{
    scope(options, |s| {
        let handles = body(s);
        s.inner.race(handles, wins)
    })
}

/// [`race`] of one task per item (`spawn_processes!(for i in items => task;
/// race)`); child `k` is named `base-k`.
pub fn race_each<I, F, T>(
    options: &ProcessOptions,
    wins: fn(&T) -> bool,
    base: WorkerName,
    items: I,
    task: F,
) -> RaceEnd<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T,
    T: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let task = &task;
    race(options, wins, |s| {
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| s.spawn(base.with_index(index), move || task(item)))
            .collect()
    })
}

/// Every output wins a race ([`race`] without `try`).
pub fn any_output<T>(_: &T) -> bool {
    true
}

/// Only an `Ok` wins a race ([`race`] with `try`).
pub fn ok_output<T, E>(output: &Result<T, E>) -> bool {
    output.is_ok()
}

impl Inner {
    /// Reads the children's pipes until one ended with an output that wins;
    /// then kills the others (the scope reaps them).
    fn race<T>(&self, handles: Vec<ChildHandle<'_, T>>, wins: fn(&T) -> bool) -> RaceEnd<T> {
        let mut outcomes: Vec<Option<Result<T, Error>>> = handles.iter().map(|_| None).collect();
        let mut children = self.children.borrow_mut();
        loop {
            let deadline = children.deadline;
            for (k, handle) in handles.iter().enumerate() {
                let child = &mut children.list[handle.index];
                if outcomes[k].is_some() || child.pipe.is_some() {
                    continue;
                }
                // Its output ended: it is exiting, or it closed its pipe (then
                // the deadline, if any, still holds while it is reaped).
                Children::reap(child, deadline);
                let outcome = (handle.outcome)(child);
                if outcome.as_ref().is_ok_and(wins) {
                    children.kill_running();
                    drop(children);
                    let Ok(output) = outcome else {
                        unreachable!("fanout: a race was won by a failure")
                    };
                    return RaceEnd::Won(output);
                }
                outcomes[k] = Some(outcome);
            }
            if outcomes.iter().all(Option::is_some) {
                let outcomes = outcomes.into_iter().flatten().collect();
                return RaceEnd::Lost(outcomes);
            }
            children.read_step();
        }
    }
}

/// Runs `task(item)` in its own child process for every item (the loop form
/// `spawn_processes!(for i in items => task)`), and returns the outcomes in
/// iteration order. Children are named `base-0`, `base-1`, ...
///
/// ```
/// use fanout::{WorkerName, process};
///
/// let names = process::spawn_each(&process::ProcessOptions::new(), WorkerName::new("worker"), 0..3, |i| {
///     format!("{i}: {}", fanout::current_name().unwrap())
/// });
/// let names: Vec<String> = names.into_iter().map(Result::unwrap).collect();
/// assert_eq!(names, ["0: worker-0", "1: worker-1", "2: worker-2"]);
/// ```
pub fn spawn_each<I, F, T>(
    options: &ProcessOptions,
    base: WorkerName,
    items: I,
    task: F,
) -> Vec<Result<T, Error>>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T,
    T: ProcessOutput,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let task = &task;
    scope(options, |s| {
        s.expect(items.len());
        let inner = &s.inner;
        let first = inner.children.borrow().list.len();
        inner.children.borrow_mut().list.reserve(items.len());
        // One run of forks: what a fork holds stays held from one child to
        // the next (see `Forks`), and no handle is kept per child (each
        // would be one more page the parent writes between two forks).
        let mut forks = Forks::new(inner.group());
        for (index, item) in items.into_iter().enumerate() {
            inner.launch(
                &mut forks,
                base.with_index(index),
                move |pipe, name, os_name| run_child(name, os_name, move || task(item), pipe),
            );
        }
        drop(forks);
        inner.wait_all();
        let mut children = inner.children.borrow_mut();
        children.list[first..]
            .iter_mut()
            .map(Child::outcome::<T>)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hook that `panic = "abort"` builds install (tests run with
    /// unwinding, so the hook runs and then the panic is caught), set in a
    /// child so that the test harness's own hook stays as it is.
    #[test]
    fn the_abort_hook_sends_the_panic_message_before_the_default_hook() {
        let sent = scope(&ProcessOptions::new(), |s| {
            s.spawn(WorkerName::new("hook"), || {
                let (mut read, write) = io::pipe().unwrap();
                send_panics_before_abort(write);
                let _ = catch_unwind(|| panic!("lost under {}", "abort"));
                let mut bytes = vec![0; 4096];
                let n = read.read(&mut bytes).unwrap();
                match wire::only::<u32>(&bytes[..n]) {
                    Some(Message::Failed(ErrorKind::Panic(text))) => text,
                    _ => format!("not a panic message: {:?}", &bytes[..n]),
                }
            })
            .join()
        });
        assert_eq!(sent.unwrap(), "lost under abort");
    }
}
