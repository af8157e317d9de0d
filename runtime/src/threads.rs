//! One OS thread per task: what `spawn_threads!` expands to.
//!
//! Threads are scoped ([`std::thread::scope`]): tasks may borrow the caller's
//! locals, and every thread is joined before [`scope`] returns.
//!
//! A task's panic is caught by unwinding and becomes the `Err` of its
//! handle's `join`. In a program built with `panic = "abort"` there is no
//! unwinding: a task's panic aborts the whole process, and `join` never
//! sees it (only process tasks report a panic under `abort`: in
//! `spawn_processes!` and `pool_map!(...; processes)` the task panics in a
//! child of its own, whose panic hook sends the message).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::ScopedJoinHandle;

use crate::error::{Error, ErrorKind};
use crate::name::{self, WorkerName};
use crate::report::Report;
use crate::task::Task;

/// Options of a group of threads (`spawn_threads!(...; stack_size = N, timeline)`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ThreadOptions {
    /// Stack size of each thread in bytes (`stack_size = N`); the std default otherwise.
    pub stack_size: Option<usize>,
    /// Show a progress bar on stderr (`progress`, loop form).
    pub progress: bool,
    /// Print a chart of when each task ran on stderr afterwards (`timeline`).
    pub timeline: bool,
}

impl ThreadOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the stack size of each thread.
    #[must_use]
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
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

/// A scope in which named worker threads are spawned; see [`scope`].
pub struct Scope<'scope, 'env> {
    inner: &'scope std::thread::Scope<'scope, 'env>,
    options: ThreadOptions,
    report: Arc<Report>,
}

/// Runs `body` with a [`Scope`] for spawning named threads, joins every thread
/// spawned in it, and returns what `body` returned.
///
/// This is `spawn_threads!(a, b)` without the macro:
///
/// ```
/// use fanout::{WorkerName, threads};
///
/// let data = vec![1, 2, 3];
/// let (sum, len) = threads::scope(&threads::ThreadOptions::new(), |s| {
///     let sum = s.spawn(WorkerName::new("sum"), || data.iter().sum::<i32>());
///     let len = s.spawn(WorkerName::new("len"), || data.len());
///     (sum.join(), len.join())
/// });
/// assert_eq!((sum.unwrap(), len.unwrap()), (6, 3));
/// ```
pub fn scope<'env, F, R>(options: &ThreadOptions, body: F) -> R
where
    F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> R,
{
    let report = Arc::new(Report::new(options.timeline, options.progress));
    let result = std::thread::scope(|inner| {
        body(&Scope {
            inner,
            options: options.clone(),
            report: Arc::clone(&report),
        })
    });
    report.finish("spawn_threads!");
    result
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Starts `task` on a new thread named `name` and returns its handle.
    ///
    /// A panic in the task is caught and becomes the handle's [`Error`]; the
    /// other threads keep running.
    pub fn spawn<T, W>(&self, name: WorkerName, task: W) -> ThreadHandle<'scope, T>
    where
        W: Task<Output = T> + Send + 'scope,
        T: Send + 'scope,
    {
        // Boxed here, so that the thread-spawning code below (std's included)
        // is generated once per output type rather than once per task type:
        // every task of every spawn_threads! is its own closure type (compile
        // time). One allocation next to the thread's own.
        self.spawn_boxed(name, Box::new(move || task.run()))
    }

    fn spawn_boxed<T>(
        &self,
        name: WorkerName,
        task: BoxedTask<'scope, T>,
    ) -> ThreadHandle<'scope, T>
    where
        T: Send + 'scope,
    {
        let mut builder = std::thread::Builder::new().name(name.to_string());
        if let Some(bytes) = self.options.stack_size {
            builder = builder.stack_size(bytes);
        }
        let report = Arc::clone(&self.report);
        let worker = name.clone();
        let spawned = builder.spawn_scoped(self.inner, move || run_named(worker, &report, task));
        ThreadHandle {
            handle: spawned.map_err(|e| Error::new(name.clone(), ErrorKind::Spawn(e.to_string()))),
            name,
        }
    }
}

/// A task with its type erased; see [`Scope::spawn`].
type BoxedTask<'scope, T> = Box<dyn FnOnce() -> T + Send + 'scope>;

/// Runs `task` as the worker `name` on the current thread, catching a panic.
pub(crate) fn run_named<W: Task>(
    name: WorkerName,
    report: &Report,
    task: W,
) -> Result<W::Output, Error> {
    crate::thread_name::keep_the_index(&name);
    let _name = name::enter(name.clone());
    let span = report.start(name.clone());
    let outcome = catch_unwind(AssertUnwindSafe(|| task.run()))
        .map_err(|payload| Error::from_panic(name, &*payload));
    report.end(span);
    outcome
}

/// A running worker thread; [`join`](ThreadHandle::join) waits for its outcome.
pub struct ThreadHandle<'scope, T> {
    name: WorkerName,
    handle: Result<ScopedJoinHandle<'scope, Result<T, Error>>, Error>,
}

impl<T> ThreadHandle<'_, T> {
    /// The worker's name.
    pub fn name(&self) -> WorkerName {
        self.name.clone()
    }

    /// Waits for the thread to end and returns its output, or the [`Error`]
    /// that says how it failed.
    pub fn join(self) -> Result<T, Error> {
        match self.handle {
            Ok(handle) => match handle.join() {
                Ok(outcome) => outcome,
                Err(payload) => Err(Error::from_panic(self.name, &*payload)),
            },
            Err(spawn_failed) => Err(spawn_failed),
        }
    }
}

/// Runs `task(item)` on its own thread for every item (the loop form
/// `spawn_threads!(for i in items => task)`), and returns the outcomes in
/// iteration order. Threads are named `base-0`, `base-1`, ...
///
/// ```
/// use fanout::{WorkerName, threads};
///
/// let squares = threads::spawn_each(&threads::ThreadOptions::new(), WorkerName::new("square"), 0..4, |i| i * i);
/// let squares: Vec<i32> = squares.into_iter().map(Result::unwrap).collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
pub fn spawn_each<I, F, T>(
    options: &ThreadOptions,
    base: WorkerName,
    items: I,
    task: F,
) -> Vec<Result<T, Error>>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> T + Sync,
    T: Send,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let task = &task;
    scope(options, |s| {
        s.report.expect(items.len());
        let mut workers = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            workers.push(s.spawn(base.with_index(index), move || task(item)));
        }
        workers.into_iter().map(ThreadHandle::join).collect()
    })
}
