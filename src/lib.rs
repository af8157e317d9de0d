//! # fanout
//!
//! One declarative line for each program of a Python concurrency tutorial:
//! threads, processes, pools and async gathers, as fast as the hand-written
//! Rust they expand to.
//!
//! | Python | fanout | feature |
//! |---|---|---|
//! | `Thread(target=f)` ×2, start, join | [`spawn_threads!(f, g)`](spawn_threads!) | `threads` |
//! | `Process(target=f, args=(x,))` | [`spawn_processes!(f(x), f(y))`](spawn_processes!) | `processes` (Linux, macOS) |
//! | `ThreadPoolExecutor(5).map(f, xs)` | [`pool_map!(f, xs; workers = 5)`](pool_map!) | `pool` |
//! | `ProcessPoolExecutor(5).map(f, xs)` | [`pool_map!(f, xs; workers = 5, processes)`](pool_map!) | `pool` + `processes` |
//! | `asyncio.run(main())` | [`fanout::run(main())`](run) | `gather` |
//! | `await asyncio.gather(a(), b())` | [`gather!(a(), b())`](gather!) | `gather` |
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! fn worker(num: u64) -> u64 {
//!     std::thread::sleep(Duration::from_millis(100));
//!     num * num
//! }
//!
//! let start = Instant::now();
//! let squares = fanout::spawn_threads!(for i in 0..5 => worker(i));
//! assert_eq!(squares, [0, 1, 4, 9, 16]);
//! assert!(start.elapsed() < Duration::from_millis(400)); // ran concurrently
//! ```
//!
//! Every macro has ended all its tasks when it returns: no thread, child
//! process or future outlives the line that started it. (The thread pool of
//! `pool_map!` on threads persists, parked between maps, as a
//! `ThreadPoolExecutor` held in a global would.)
//!
//! ## The language of the macros
//!
//! `TASKS` is a comma list `a, b, c` (outputs: a tuple in task order; one task
//! gives its output alone) or the loop form `for PAT in EXPR => TASK` (outputs: a
//! `Vec` in iteration order). A task is a path (run with [`Task::run`]), a closure
//! with no parameters (called in the worker), or any other expression, evaluated
//! in the worker as the body of a closure that borrows what it uses (in the loop
//! form the pattern's bindings are moved into each task). For [`gather!`] a
//! task is a future (any `IntoFuture`). For [`pool_map!`], `FUNC` is anything
//! callable as `Fn(Item) -> T` and `ITEMS` any `IntoIterator`.
//!
//! Worker names: a path task is named by its last segment, a call by its
//! callee, a method call by its method, anything else `task`; the loop form
//! and `pool_map!` append the 0-based index, `-k`. `name = ...` replaces the
//! base (a literal, or any string expression, read once at the call);
//! [`current_name`] reads it inside any worker. Panic messages (`thread
//! 'div-2' (4750) panicked at ...`) and, on Linux, the system's thread list
//! show the same names (README, "Worker names").
//!
//! ## Options
//!
//! Options follow a `;`, separated by commas:
//! `spawn_threads!(a, b; catch, name = "io")`. An option a macro does not
//! take, an unknown or duplicate option, a value that cannot work
//! (`workers = 0`), or an option whose feature is off is a compile error on
//! the option, which says what to write instead.
//!
//! | option | [`spawn_threads!`] | [`spawn_processes!`] | [`pool_map!`] | [`gather!`] | what it does | Python | feature |
//! |---|:-:|:-:|:-:|:-:|---|---|---|
//! | `catch` | ✓ | ✓ | ✓ | ✓ | each output becomes `Result<T, fanout::Error>`; nothing panics | `gather(..., return_exceptions=True)`; `future.exception()` | the macro's |
//! | `try` | ✓ | ✓ | ✓ | ✓ | tasks return `Result<T, E>`; the macro returns `Result<(T0, T1, ...), E>` or `Result<Vec<T>, E>` | `asyncio.TaskGroup`; the first exception of `executor.map`'s results | the macro's |
//! | `name = NAME` | ✓ | ✓ | ✓ | ✓ | the base of the workers' names: a literal, or any string expression (`&str`, `String`, `format!("req-{id}")`), read once before the workers start | `Thread(name=...)`, `Process(name=...)`, `thread_name_prefix=` | the macro's |
//! | `timeline` | ✓ | ✓ | ✓ | ✓ | afterwards, a chart on stderr of when each task ran, and where | — | the macro's |
//! | `progress` | loop form | loop form | ✓ | loop form | a progress bar on stderr while it runs (only when stderr is a terminal) | `tqdm` | `progress` |
//! | `stack_size = BYTES` | ✓ | | | | the stack size of each thread | `threading.stack_size(n)` | `threads` |
//! | `timeout = DURATION` | | ✓ | ✓ | ✓ | nothing starts after the deadline; what can be stopped (processes, futures) is stopped | `asyncio.wait_for`, `asyncio.timeout`, `future.result(timeout=)` | the macro's; on `gather!`, a Tokio runtime |
//! | `workers = N` | | | ✓ | | at most N items run at once | `max_workers=N` | `pool` |
//! | `chunksize = N` | | | ✓ | | a worker takes N consecutive items at a time | `chunksize=N` | `pool` |
//! | `processes` | | | ✓ | | a pool of forked processes instead of threads | `ProcessPoolExecutor` | `pool` + `processes` |
//! | `mpi` | | | ✓ | | the items spread over the ranks of an MPI job | `mpi4py.futures.MPIPoolExecutor.map` | `mpi` (off by default) |
//! | `limit = N` | | | | ✓ | at most N futures in flight at once | `asyncio.Semaphore(N)` around each task | `gather` |
//! | `spawn` | | | | ✓ | each future becomes a Tokio task, so they run in parallel | `asyncio.create_task` | `gather`, and a Tokio runtime |
//! | `stream` | | | ✓ | loop form | an `Iterator` (`pool_map!`) or a `futures::Stream` (`gather!`) of the outputs in input order, items taken lazily | `for r in executor.map(f, xs, buffersize=N)`, `Pool.imap` | `pool` (with `processes`, also `processes`); `gather` |
//! | `unordered` | | | ✓ | loop form | the same, `(index, output)` in completion order | `as_completed`, `Pool.imap_unordered` | as `stream` |
//! | `buffer = N` | | | with `stream`/`unordered` | with `stream`/`unordered` | at most N items taken and not yet yielded | `buffersize=N` | as `stream` |
//! | `init = CLOSURE` | | | ✓ | | state built once per worker; `FUNC` takes `(&mut state, item)` | `initializer=` | `pool` |
//! | `recycle = N` | | | with `processes` | | a worker process exits after N items and a fresh one takes over | `max_tasks_per_child=N` | `processes` |
//! | `race` | | ✓ | | ✓ | the output of the first task to finish; the others are cancelled (futures dropped, children killed and reaped) | `asyncio.wait(..., return_when=FIRST_COMPLETED)` | the macro's |
//!
//! "The macro's" feature is the one the macro itself needs: `threads` for
//! `spawn_threads!`, `processes` for `spawn_processes!`, `pool` for
//! `pool_map!`, `gather` for `gather!`. Each macro's page shows its options
//! at work and the code it stands for.
//!
//! ## Failures
//!
//! By default a panicking task (or, in a process, a non-zero exit or a
//! signal) makes the caller panic, once every other task ended, with a message
//! that names the worker and quotes the cause
//! (``worker `worker-3` panicked: boom``). With `catch` every output is a
//! `Result<T, fanout::Error>` instead; [`Error`] says which worker failed and
//! how ([`ErrorKind`]). With `try` the tasks return `Result<T, E>` and the
//! macro returns `Result<_, E>`.
//!
//! ## What is true but surprising
//!
//! **`gather!`'s `timeout` and `spawn` need a Tokio runtime.** The deadline
//! is a Tokio timer and `spawn` makes Tokio tasks, so a `gather!` with either
//! must be polled inside a runtime: `fanout::run(...)` or `#[tokio::main]`.
//! Outside one it panics with
//! ``gather!(...; timeout) needs a Tokio runtime: run it inside `fanout::run(...)` or `#[tokio::main]` ``.
//! Without them, `gather!` runs on any executor:
//!
//! ```
//! let (a, b) = futures::executor::block_on(async { fanout::gather!(async { 1 }, async { 2 }) });
//! assert_eq!((a, b), (1, 2));
//! ```
//!
//! **`panic = "abort"`.** `catch` turns a panic into an `Err` by unwinding,
//! which a program built with `panic = "abort"` never does:
//!
//! - `spawn_threads!`, `pool_map!` on threads and `gather!` (`spawn`
//!   included) cannot catch: the first panic aborts the whole process,
//!   caller included, with or without `catch`.
//! - `spawn_processes!` and `pool_map!(...; processes)` still can: the task
//!   panics in its own child, which a panic hook set in the child reports to
//!   the parent (with the panic's message) before the child aborts. The
//!   caller gets the usual error, ``worker `task` panicked: ...``, as a panic
//!   or, with `catch`, an `Err`; the pool replaces the worker and the other
//!   items still run.
//! - `pool_map!(...; mpi)`: the rank whose item panics aborts, and `mpirun`
//!   ends the job's other ranks: no rank returns.
//!
//! **Children forked from a Tokio runtime.** A process task started inside a
//! Tokio runtime (a `spawn_processes!` in an `async fn` under
//! `#[tokio::main]`) runs in the child on a fresh thread, outside the
//! parent's runtime, so that it may start its own: `fanout::run` and
//! `gather!` work inside the task. That thread sees the default value of the
//! caller's other thread-locals.
//!
//! ```
//! let doubled = fanout::run(async {
//!     fanout::spawn_processes!(|| fanout::run(async { fanout::gather!(async { 21 * 2 }) }))
//! });
//! assert_eq!(doubled, 42);
//! ```
//!
//! **Random numbers in children.** A forked child is a copy of its parent,
//! random number generators included: rand's `ThreadRng`, or any generator
//! seeded before the fork, draws the same numbers in every child. Seed each
//! task's generator with [`worker_seed()`], which differs per worker, process
//! and call (its page has a Monte Carlo example).
//!
//! **Fork and locks.** `spawn_processes!` and `pool_map!(...; processes)`
//! fork. The child is a copy of the caller in which only the forking thread
//! exists: a lock that another thread held at the moment of the fork stays
//! locked forever in the child. fanout flushes and holds the std
//! stdout/stderr locks around the fork, so printing is safe; keep other
//! shared state out of process tasks. A lock the caller itself holds
//! (`let out = stdout().lock();` around the macro) goes into the child held
//! by the child's main thread: the task can print, a thread the task starts
//! cannot (it waits until the timeout). The child never returns into the
//! caller's code: it sends its output and leaves with `_exit`, without
//! running destructors or `atexit` handlers.
//!
//! ## Features
//!
//! One cargo feature per backend, all but `mpi` on by default:
//!
//! | feature | turns on | brings |
//! |---|---|---|
//! | `threads` | [`spawn_threads!`], `fanout::threads` | nothing (std only) |
//! | `pool` | [`pool_map!`] on threads, `fanout::map` | rayon |
//! | `processes` | [`spawn_processes!`], `fanout::process`; with `pool`, `pool_map!(...; processes)` (Linux and macOS) | serde, rmp-serde, stacker, libc |
//! | `gather` | [`gather!`], [`run`], `fanout::gather` | tokio, futures, pin-project-lite |
//! | `progress` | the `progress` option's bar | indicatif |
//! | `mpi` (off by default) | `pool_map!(...; mpi)`, `fanout::mpi`; turns on `pool` and `processes` | mpi, postcard, serde's derive; an MPI library |
//!
//! A macro or option whose feature is off is a compile error that names the
//! feature. With `default-features = false, features = ["threads"]` fanout
//! builds only syn, quote, proc-macro2 and unicode-ident besides its own
//! crates.
#![deny(missing_docs)]

// The runtime the macros expand to, one module per backend: what each macro's
// "equivalent code without the macro" uses.
// Each backend's module is there with its feature (README, "Features").
#[cfg(feature = "gather")]
pub use fanout_runtime::gather;
#[cfg(feature = "pool")]
pub use fanout_runtime::map;
#[cfg(feature = "mpi")]
pub use fanout_runtime::mpi;
#[cfg(all(unix, feature = "processes"))]
pub use fanout_runtime::process;
/// What a process task may return: any `serde::Serialize + DeserializeOwned` type.
#[cfg(all(unix, feature = "processes"))]
pub use fanout_runtime::process::ProcessOutput;
#[cfg(feature = "threads")]
pub use fanout_runtime::threads;
pub use fanout_runtime::{
    Error, ErrorKind, NameText, Result, Task, WorkerName, current_name, panic_message, run,
    signal_name, worker_seed,
};
pub use fanout_runtime::{outcome, report};

#[doc(hidden)]
pub mod __private {
    pub use fanout_runtime::*;
}

#[doc(hidden)]
pub use fanout_macros as __macros;

/// Runs each task on its own OS thread and returns their outputs: Python's
/// `threading.Thread(...).start()` / `.join()` in one line.
///
/// `spawn_threads!(TASKS [; OPTIONS])`. Threads are scoped: tasks may borrow the
/// caller's locals, and every thread is joined before the macro returns. Needs
/// the `threads` feature.
///
/// # Options
///
/// - `catch`: each output is a `Result<T, fanout::Error>`; nothing panics
///   (Python's `return_exceptions=True`).
/// - `try`: the tasks return `Result<T, E>` and the macro returns
///   `Result<(T0, T1, ...), E>` (or `Result<Vec<T>, E>`): the first error in
///   task order, once every thread ended. With `catch` too, a panic becomes the
///   task error through `E: From<fanout::Error>`.
/// - `name = NAME`: the base of the workers' names (`Thread(name=...)`): a
///   literal, or any string expression (`&str`, `String`), read once.
/// - `stack_size = BYTES`: the stack of each thread (`threading.stack_size`).
/// - `timeline`: afterwards, a chart on stderr of when each task ran.
/// - `progress` (loop form; the `progress` feature): a progress bar on stderr.
///
/// `timeout` and `race` are compile errors that explain why: a running thread
/// cannot be stopped from outside. Use [`spawn_processes!`] for tasks that must
/// be stopped.
///
/// A task that returns an `async fn`'s future (`spawn_threads!(fetch(url))`)
/// is a compile error too: on a thread nothing would poll it. Await futures
/// with [`gather!`], or run each to its end in its task with [`run`]
/// (`spawn_threads!(fanout::run(fetch(url)))`).
///
/// # Examples
///
/// The tutorial's first program, and its loop version:
///
/// ```
/// fn print_numbers() -> usize { (0..10).inspect(|i| println!("{i}")).count() }
/// fn print_letters() -> usize { "abcdefghij".chars().inspect(|c| println!("{c}")).count() }
///
/// let (numbers, letters) = fanout::spawn_threads!(print_numbers, print_letters);
/// assert_eq!((numbers, letters), (10, 10));
///
/// let data = vec![10, 20, 30];
/// let doubled = fanout::spawn_threads!(for i in 0..3 => data[i] * 2);
/// assert_eq!(doubled, [20, 40, 60]);
///
/// let names = fanout::spawn_threads!(for i in 0..2 => fanout::current_name(); name = "io");
/// assert_eq!(names[1].as_deref(), Some("io-1"));
///
/// let request = 7;
/// let who = format!("req-{request}"); // a name known only at run time
/// let names = fanout::spawn_threads!(for i in 0..2 => fanout::current_name(); name = who.as_str());
/// assert_eq!(names[1].as_deref(), Some("req-7-1"));
///
/// fn depth(n: u64) -> u64 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
/// let deep = fanout::spawn_threads!(|| depth(10_000); stack_size = 64 << 20, timeline);
/// assert_eq!(deep, 10_000);
/// ```
///
/// # Panics
///
/// Without `catch`, if a task panics: the caller panics once every other
/// thread has ended, with a message naming the worker and quoting its panic
/// (``worker `worker-3` panicked: boom``); several failures are listed
/// together. A program built with `panic = "abort"` aborts at the task's
/// panic instead, `catch` or not (see the crate docs, "What is true but
/// surprising").
///
/// # Errors
///
/// With `catch`, each output is a `Result<T, fanout::Error>`; with `try`, the
/// macro returns the first `Err` in task order:
///
/// ```
/// let (ok, failed) = fanout::spawn_threads!(|| 1, || -> i32 { panic!("boom") }; catch);
/// assert_eq!(ok.unwrap(), 1);
/// assert_eq!(failed.unwrap_err().to_string(), "worker `task` panicked: boom");
///
/// let parsed: Result<Vec<i32>, _> = fanout::spawn_threads!(for s in ["1", "x"] => s.parse::<i32>(); try);
/// assert!(parsed.is_err());
/// ```
///
/// # Equivalent code without the macro
///
/// `spawn_threads!(print_numbers, print_letters)` is, with [`threads`]:
///
/// ```
/// use fanout::{WorkerName, outcome, threads};
/// # fn print_numbers() {} fn print_letters() {}
/// let options = threads::ThreadOptions::new();
/// let (a, b) = threads::scope(&options, |s| {
///     let a = s.spawn(WorkerName::new("print_numbers"), print_numbers);
///     let b = s.spawn(WorkerName::new("print_letters"), print_letters);
///     (a.join(), b.join())
/// });
/// match (a, b) {
///     (Ok(a), Ok(b)) => (a, b),
///     (a, b) => outcome::raise([a.err(), b.err()]),
/// };
/// ```
///
/// With `catch`, the `Result`s of `join()` are the outputs.
#[macro_export]
macro_rules! spawn_threads {
    ($($input:tt)*) => { $crate::__off_fork!{spawn_threads [$crate] $($input)*} };
}

/// Runs each task in its own forked child process and returns their outputs:
/// Python's `multiprocessing.Process(...).start()` / `.join()` in one line.
///
/// `spawn_processes!(TASKS [; OPTIONS])`. The child inherits the caller's
/// memory, so a task may use anything in scope (even values that are neither
/// `Send` nor serializable); only its output crosses back, so it must be
/// [`ProcessOutput`] (`serde::Serialize + DeserializeOwned`). The child runs
/// the task, sends the output and leaves with `_exit`; every child is reaped
/// before the macro returns. Linux and macOS only; needs the `processes`
/// feature. Forking has consequences for locks, Tokio runtimes and random
/// number generators: see the crate docs, "What is true but surprising", and
/// [`worker_seed`].
///
/// # Options
///
/// - `catch`: each output is a `Result<T, fanout::Error>`; nothing panics.
/// - `try`: the tasks return `Result<T, E>` and the macro returns
///   `Result<_, E>`, the first error in task order once every child ended.
/// - `name = NAME`: the base of the workers' names (`Process(name=...)`): a
///   literal, or any string expression (`&str`, `String`), read once.
/// - `timeout = DURATION`: a child still running at the deadline is killed
///   and reaped, and its task is a timeout error.
/// - `race`: the output of the first child to finish; the others are killed
///   and reaped (`wait(..., return_when=FIRST_COMPLETED)`). With `try`, the
///   first `Ok` (or the error of the lowest index if all failed); with
///   `timeout`, a timeout error if none finished.
/// - `timeline`: afterwards, a chart on stderr of when each task ran, and in
///   which process.
/// - `progress` (loop form; the `progress` feature): a progress bar on stderr.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fn print_process_info(name: &str) -> u32 {
///     println!("Process {name}: {}", std::process::id());
///     std::process::id()
/// }
///
/// let (p1, p2) = fanout::spawn_processes!(print_process_info("p1"), print_process_info("p2"));
/// assert_ne!(p1, p2);
/// assert_ne!(p1, std::process::id());
///
/// fn worker(_: usize) -> String {
///     fanout::current_name().unwrap()
/// }
/// let names = fanout::spawn_processes!(for i in 0..3 => worker(i));
/// assert_eq!(names, ["worker-0", "worker-1", "worker-2"]);
///
/// let first = fanout::spawn_processes!(
///     || { std::thread::sleep(Duration::from_secs(10)); 10 },
///     || 1;
///     race
/// );
/// assert_eq!(first, 1); // the slow child was killed, not waited for
/// ```
///
/// # Panics
///
/// Without `catch`, if a child panics, exits with a non-zero code or dies by a
/// signal: the caller panics after all children ended, naming the worker, its
/// pid and the cause (the panic message, the exit code, or `SIGSEGV`...); with
/// `timeout`, naming a task that timed out. This holds under
/// `panic = "abort"` too: a panic hook in the child sends the panic message
/// before the child aborts.
///
/// # Errors
///
/// With `catch` each output is a `Result<T, fanout::Error>`; with `try`, the
/// macro returns the first `Err` in task order:
///
/// ```
/// use std::time::Duration;
///
/// let slow = fanout::spawn_processes!(
///     || std::thread::sleep(Duration::from_secs(10));
///     catch, timeout = Duration::from_millis(100)
/// );
/// assert!(slow.unwrap_err().is_timeout());
///
/// let crashed = fanout::spawn_processes!(|| -> u8 { std::process::exit(3) }; catch);
/// assert!(matches!(crashed.unwrap_err().kind(), fanout::ErrorKind::Exit(3)));
/// ```
///
/// # Equivalent code without the macro
///
/// With [`process`]: [`process::scope`] for the comma list,
/// [`process::spawn_each`] for the loop form, [`process::race`] for `race`.
///
/// ```
/// use fanout::{WorkerName, outcome, process};
/// use std::time::Duration;
///
/// let options = process::ProcessOptions::new();
/// let pid = process::scope(&options, |s| s.spawn(WorkerName::new("pid"), std::process::id).join());
/// assert_ne!(pid.unwrap(), std::process::id());
///
/// // spawn_processes!(|| { sleep(10 s); 10 }, || 1; race)
/// let end = process::race(&options, process::any_output, |s| {
///     vec![
///         s.spawn(WorkerName::indexed("task", 0), || { std::thread::sleep(Duration::from_secs(10)); 10 }),
///         s.spawn(WorkerName::indexed("task", 1), || 1),
///     ]
/// });
/// assert_eq!(outcome::race_output(end), 1);
/// ```
#[macro_export]
macro_rules! spawn_processes {
    ($($input:tt)*) => { $crate::__off_fork!{spawn_processes [$crate] $($input)*} };
}

/// Maps a function over items on a pool of workers and returns the outputs in
/// input order: `ThreadPoolExecutor.map` (or, with `processes`,
/// `ProcessPoolExecutor.map`) in one line.
///
/// `pool_map!(FUNC, ITEMS [; OPTIONS])`: FUNC is anything callable as
/// `Fn(Item) -> T` (a function path, or a closure that may borrow locals);
/// ITEMS is any `IntoIterator`. Needs the `pool` feature. The rules (order,
/// start width, failures, `catch`, `try`, `timeout`, crashed workers) are the
/// same on every backend: see [`map`].
///
/// # Options
///
/// - `workers = N`: at most N items at once, and `min(N, items)` from the
///   start (`max_workers=N`); by default the available parallelism (on MPI, the
///   number of ranks). A computed 0 panics at the macro call.
/// - `chunksize = N`: a worker takes N consecutive items at a time
///   (`chunksize=N`); by default about four chunks per worker.
/// - `catch`: a `Vec<Result<T, fanout::Error>>`, every item its own outcome.
/// - `try`: FUNC returns `Result<T, E>`; the macro returns `Result<Vec<T>, E>`.
/// - `name = NAME`: the base of the workers' names, `base-0`, `base-1`, ...
///   (`thread_name_prefix=`): a literal, or any string expression, read once.
/// - `processes` (the `processes` feature; Linux and macOS): a pool of forked
///   worker processes (`ProcessPoolExecutor`). Neither FUNC nor the items need
///   be `Send` or serializable; the outputs must be [`ProcessOutput`]. A
///   crashed worker fails only the item it ran, and is replaced.
/// - `mpi` (the `mpi` feature, under `mpirun`): the items spread over the
///   ranks of an MPI job, every rank returning the whole `Vec`
///   (`MPIPoolExecutor.map`; `fanout::mpi`, and
///   [docs/mpi.md](https://github.com/fanout-rs/fanout/blob/main/docs/mpi.md)).
/// - `timeout = DURATION`: no item starts after the deadline; process items
///   still running are killed; thread and MPI items finish, the items that
///   never started time out (`future.result(timeout=)`).
/// - `stream`: instead of a `Vec`, an `Iterator` of the outputs in input order,
///   the items taken lazily, so `0..` works (`Executor.map(...,
///   buffersize=N)`, `Pool.imap`). On threads FUNC and the items must be
///   `Send + 'static` (a borrow of a local that the tokens show, `&v`,
///   `v.iter()`, a closure without `move` that uses a local, is a compile
///   error that says to move an owned value or an `Arc` in); on processes the
///   items must be serializable, and a worker that crashes is replaced.
///   Dropping the iterator early cancels the rest.
/// - `unordered`: the same, `(index, output)` in completion order
///   (`as_completed`, `Pool.imap_unordered`).
/// - `buffer = N` (with `stream` or `unordered`): at most N items taken and
///   not yet yielded (`buffersize=N`); by default twice the workers.
/// - `init = CLOSURE`: a state built once per worker thread, process or MPI rank, which
///   FUNC takes as `&mut` before the item: `|state, item| ...`
///   (`initializer=`). A panicking `init` fails the items of its worker.
/// - `recycle = N` (with `processes`): a worker process exits after N items
///   and a fresh one takes over (`max_tasks_per_child=N`).
/// - `progress` (the `progress` feature): a progress bar on stderr (`tqdm`).
/// - `timeline`: afterwards, a chart on stderr of when each item ran, and on
///   which worker.
///
/// # Examples
///
/// ```
/// fn square(number: u64) -> u64 { number * number }
///
/// let squares = fanout::pool_map!(square, 0..10; workers = 5);
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
///
/// let in_processes = fanout::pool_map!(square, 0..10; workers = 5, processes);
/// assert_eq!(in_processes, squares);
///
/// let words = vec!["a", "bb", "ccc"];
/// let lengths = fanout::pool_map!(|w: &&str| w.len(), &words);
/// assert_eq!(lengths, [1, 2, 3]);
/// ```
///
/// Streams, over an endless range, and in completion order:
///
/// ```
/// # fn square(number: u64) -> u64 { number * number }
/// let first: Vec<u64> = fanout::pool_map!(square, 0..; stream, buffer = 16).take(5).collect();
/// assert_eq!(first, [0, 1, 4, 9, 16]);
///
/// let mut done: Vec<(usize, u64)> = fanout::pool_map!(square, 0..4; unordered, workers = 2).collect();
/// done.sort();
/// assert_eq!(done, [(0, 0), (1, 1), (2, 4), (3, 9)]);
/// ```
///
/// A state per worker, and worker processes that are replaced after 2 items:
///
/// ```
/// let tagged = fanout::pool_map!(
///     |seen: &mut Vec<u32>, x: u32| { seen.push(x); x * 10 },
///     0..6;
///     init = || Vec::new(), workers = 2
/// );
/// assert_eq!(tagged, [0, 10, 20, 30, 40, 50]);
///
/// let pids = fanout::pool_map!(|_: u32| std::process::id(), 0..6; processes, workers = 1, chunksize = 1, recycle = 2);
/// assert_eq!(pids[0], pids[1]);
/// assert_ne!(pids[1], pids[2]); // a fresh process after 2 items
/// ```
///
/// # Panics
///
/// Without `catch`, if an item panics (or, with `processes`, its worker dies,
/// or it timed out): no new item starts, the running items end, and the caller
/// panics with the failure of the lowest index, naming the item's worker
/// (`square-7`) and the cause. A stream panics when it would yield the failed
/// item. If `workers` is 0 at run time, the panic points at the macro call.
/// Under `panic = "abort"`, a panic on threads aborts the program, `catch` or
/// not; with `processes` the panic message is still reported (see the crate
/// docs, "What is true but surprising").
///
/// # Errors
///
/// With `catch`, a `Vec<Result<T, fanout::Error>>`: every item its own
/// outcome. With `try` (FUNC returns `Result<T, E>`), `Result<Vec<T>, E>`:
/// the error of the lowest index among the items that ran; no new item starts
/// once an error is seen. On a stream, `catch` makes each item a `Result`, and
/// `try` ends the stream after the first `Err`.
///
/// ```
/// let parsed: Result<Vec<u8>, _> = fanout::pool_map!(|s: &str| s.parse::<u8>(), ["1", "x", "3"]; try);
/// assert!(parsed.is_err());
///
/// let each = fanout::pool_map!(|x: u8| { assert!(x != 1, "no 1"); x }, 0..3; catch);
/// assert_eq!(each[1].as_ref().unwrap_err().panic_message(), Some("no 1"));
/// ```
///
/// # Equivalent code without the macro
///
/// With [`map`]: [`map::on_threads`] and [`map::on_processes`] (the mode
/// [`map::Unwrap`], [`map::Catch`] or [`map::Try`] says what becomes of
/// failures), their `_with_init` forms for `init`, and the streams
/// [`map::stream_in_order`] and [`map::stream_unordered`]:
///
/// ```
/// use fanout::WorkerName;
/// use fanout::map::{self, Catch, MapOptions, Unwrap};
/// # fn square(n: u64) -> u64 { n * n }
/// let options = MapOptions::new().workers(5);
/// let squares = map::on_threads(&options, Unwrap, WorkerName::new("square"), 0..10, square);
/// assert_eq!(squares[3], 9);
/// let in_processes = map::on_processes(&options, Unwrap, WorkerName::new("square"), 0..10, square);
/// assert_eq!(in_processes, squares);
///
/// // pool_map!(square, 0..; stream, buffer = 16)
/// let stream = map::stream_in_order(&MapOptions::new().buffer(16), Unwrap, WorkerName::new("square"), 0.., square);
/// assert_eq!(stream.take(3).collect::<Vec<_>>(), [0, 1, 4]);
///
/// // pool_map!(|seen, x| ..., 0..4; init = || Vec::new(), catch)
/// let tagged = map::on_threads_with_init(
///     &MapOptions::new(),
///     Catch,
///     WorkerName::new("task"),
///     0..4,
///     || Vec::new(),
///     |seen: &mut Vec<u32>, x: u32| { seen.push(x); x * 10 },
/// );
/// assert_eq!(tagged[3].as_ref().ok(), Some(&30));
/// ```
#[macro_export]
macro_rules! pool_map {
    ($($input:tt)*) => { $crate::__off_fork!{pool_map [$crate] $($input)*} };
}

/// Awaits several futures concurrently on the current task and returns their
/// outputs: `await asyncio.gather(...)` in one line. Use it inside async code,
/// as `tokio::join!`.
///
/// `gather!(TASKS [; OPTIONS])`. The tasks are futures (any `IntoFuture`
/// expression), created in the caller, so they may borrow locals, and polled
/// together in the gather; `gather!` awaits by itself. Needs the `gather`
/// feature. Without `timeout` or `spawn` it runs on any executor; with either,
/// it must run inside a Tokio runtime ([`run`] or `#[tokio::main]`).
///
/// # Options
///
/// - `catch`: each output is a `Result<T, fanout::Error>`
///   (`return_exceptions=True`).
/// - `try`: the futures return `Result<T, E>`; the gather stops at the first
///   error in time, drops (cancels) the futures still running, and returns
///   `Result<_, E>` (`asyncio.TaskGroup`).
/// - `name = NAME`: the base of the tasks' names (a literal, or any string
///   expression, read once).
/// - `timeout = DURATION` (needs a Tokio runtime): the futures still pending
///   at the deadline are dropped, and are timeout errors (`asyncio.timeout`).
/// - `limit = N`: at most N futures in flight; the others start, in task
///   order, as earlier ones finish (`asyncio.Semaphore(N)` around each task).
/// - `spawn` (needs a Tokio runtime): each future becomes a Tokio task, so
///   they run in parallel on the runtime's threads; they must be
///   `Send + 'static` (`asyncio.create_task`). No task outlives the macro:
///   aborted ones are awaited before it returns.
/// - `stream` (loop form): a `futures::Stream` of the outputs in input order,
///   the futures created lazily (an async `Pool.imap`).
///   Dropping it cancels the rest.
/// - `unordered` (loop form): the same, `(index, output)` in completion order
///   (`asyncio.as_completed`).
/// - `buffer = N` (with `stream` or `unordered`): at most N futures taken and
///   not yet yielded; by default `limit`, or unbounded.
/// - `race`: the output of the first future to finish; the others are dropped
///   (`asyncio.wait(..., return_when=FIRST_COMPLETED)`). With `try`, the first
///   `Ok`; with `timeout`, a timeout error if none finished.
/// - `progress` (loop form; the `progress` feature): a progress bar on stderr.
/// - `timeline`: afterwards, a chart on stderr of when each future ran: one
///   thread, interleaved (concurrency, not parallelism).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// async fn task(name: &str, secs: f64) -> String {
///     tokio::time::sleep(Duration::from_secs_f64(secs)).await;
///     format!("{name} end")
/// }
///
/// fanout::run(async {
///     let start = Instant::now();
///     let (one, two) = fanout::gather!(task("Task 1", 0.2), task("Task 2", 0.1));
///     assert_eq!((one.as_str(), two.as_str()), ("Task 1 end", "Task 2 end"));
///     assert!(start.elapsed() < Duration::from_millis(290));
///
///     let all = fanout::gather!(for i in 0..5 => task("worker", 0.01 * i as f64));
///     assert_eq!(all.len(), 5);
///
///     let limited = fanout::gather!(for i in 0..6 => task("limited", 0.01); limit = 2);
///     assert_eq!(limited.len(), 6);
///
///     let doubled = fanout::gather!(for i in 0..4 => async move { i * 2 }; spawn);
///     assert_eq!(doubled, [0, 2, 4, 6]);
///
///     let first = fanout::gather!(task("slow", 10.0), task("fast", 0.01); race);
///     assert_eq!(first, "fast end");
/// });
/// ```
///
/// Streams, consumed as the outputs arrive:
///
/// ```
/// use futures::StreamExt;
/// use std::time::Duration;
///
/// fanout::run(async {
///     let mut naps = fanout::gather!(for ms in [30, 10, 20] => async move {
///         tokio::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     }; unordered);
///     let mut order = Vec::new();
///     while let Some((index, ms)) = naps.next().await {
///         order.push((index, ms));
///     }
///     assert_eq!(order, [(1, 10), (2, 20), (0, 30)]);
/// });
/// ```
///
/// # Panics
///
/// Without `catch`, if a future panics: once all others finished, the caller
/// panics naming the task and quoting its panic. With `timeout` and without
/// `catch`, the caller panics naming the tasks that timed out.
///
/// With `timeout` or `spawn` outside a Tokio runtime, it panics with
/// ``gather!(...; timeout) needs a Tokio runtime: run it inside `fanout::run(...)` or `#[tokio::main]` (the gather! at src/main.rs:12:5)``:
/// wrap the async code in [`fanout::run`](run), or run it under
/// `#[tokio::main]`.
///
/// Under `panic = "abort"` a panicking future aborts the program, `catch` or
/// not (see the crate docs, "What is true but surprising").
///
/// # Errors
///
/// With `catch`, each output is a `Result<T, fanout::Error>` (Python's
/// `return_exceptions=True`); with `try`, the first error in time:
///
/// ```
/// use std::time::Duration;
///
/// fanout::run(async {
///     let (fast, slow) = fanout::gather!(
///         async { 1 },
///         tokio::time::sleep(Duration::from_secs(10));
///         catch, timeout = Duration::from_millis(50)
///     );
///     assert_eq!(fast.unwrap(), 1);
///     assert!(slow.unwrap_err().is_timeout());
///
///     let parsed: Result<Vec<u8>, _> = fanout::gather!(for s in ["1", "x"] => async move { s.parse::<u8>() }; try);
///     assert!(parsed.is_err());
/// });
/// ```
///
/// # Equivalent code without the macro
///
/// With [`gather`](mod@gather): [`gather::gather_each`] (and `try_gather_each`) for the
/// loop form, [`gather::race_each`] for `race`, [`gather::stream_in_order`] and
/// [`gather::stream_unordered`] for the streams, [`gather::Spawner`] for
/// `spawn`:
///
/// ```
/// use fanout::{WorkerName, gather};
///
/// let doubled = fanout::run(async {
///     let options = gather::GatherOptions::new();
///     gather::gather_each(&options, WorkerName::new("double"), (0..3).map(|i| async move { i * 2 })).await
/// });
/// assert_eq!(doubled.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 2, 4]);
///
/// // gather!(for ms in [30, 10, 20] => nap(ms); race)
/// let fastest = fanout::run(async {
///     let options = gather::GatherOptions::new();
///     let naps = [30, 10, 20].map(|ms| async move {
///         tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
///         ms
///     });
///     gather::race_output(gather::race_each(&options, WorkerName::new("nap"), naps).await)
/// });
/// assert_eq!(fastest, 10);
/// ```
#[macro_export]
macro_rules! gather {
    ($($input:tt)*) => { $crate::__off_fork!{gather [$crate] $($input)*} };
}

// The features that are off, passed to the proc macros as flags after the
// path: `[$crate; no_pool, no_gather]`. A macro whose feature is off is then
// a compile error on the user's tokens that names the feature. Each wrapper
// calls `__off_fork!{MACRO [$crate] INPUT}`; each stage below adds its flag
// when its feature (or, for `fork`, the target) lacks it, and the last calls
// the proc macro.

#[cfg(unix)]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_fork {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_threads!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(unix))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_fork {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_threads!{$m [$k $($off)* no_fork] $($input)*} };
}

#[cfg(feature = "threads")]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_threads {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_pool!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(feature = "threads"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_threads {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_pool!{$m [$k $($off)* no_threads] $($input)*} };
}

#[cfg(feature = "pool")]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_pool {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_processes!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(feature = "pool"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_pool {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_processes!{$m [$k $($off)* no_pool] $($input)*} };
}

#[cfg(feature = "processes")]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_processes {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_gather!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(feature = "processes"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_processes {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_gather!{$m [$k $($off)* no_processes] $($input)*} };
}

#[cfg(feature = "gather")]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_gather {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_progress!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(feature = "gather"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_gather {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_progress!{$m [$k $($off)* no_gather] $($input)*} };
}

#[cfg(feature = "progress")]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_progress {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_done!{$m [$k $($off)*] $($input)*} };
}
#[cfg(not(feature = "progress"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __off_progress {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__off_done!{$m [$k $($off)* no_progress] $($input)*} };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __off_done {
    ($m:ident [$k:tt $($off:ident)*] $($input:tt)*) => { $crate::__macros::$m!{[$k; $($off),*] $($input)*} };
}
