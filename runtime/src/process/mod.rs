//! One forked child process per task, and a pool of forked workers: what
//! `spawn_processes!` and `pool_map!(f, items; processes)` expand to
//! (Python's `multiprocessing.Process` and `ProcessPoolExecutor.map`).
//!
//! Unix only (Linux and macOS): everything here is built on `fork`.
//!
//! # How a child runs
//!
//! A child is a copy of the caller made by `fork` at the moment its task is
//! spawned. It sees everything the caller had in memory, so a task may borrow
//! the caller's locals and capture values that are neither `Send` nor
//! serializable (an `Rc`, say); what it changes stays in the child. Only the
//! output crosses back, encoded as MessagePack: it must implement
//! [`ProcessOutput`], that is `serde::Serialize + serde::de::DeserializeOwned`.
//!
//! The child sets its worker name ([`current_name`](crate::current_name)),
//! runs the task, sends the output (or the panic message) to the parent,
//! flushes stdout and stderr, and leaves with `_exit`: it never returns into
//! the caller's code, never runs the caller's destructors or `atexit`
//! handlers.
//!
//! The parent reads every child's pipe while the children run (outputs of
//! any size come back without deadlock) and reaps every child before
//! [`scope()`], [`spawn_each`] or a pool function returns: no zombies, also after
//! a panic, a crash or a timeout.
//!
//! # How a child fails
//!
//! A child that panics, exits with a non-zero code or is killed by a signal
//! becomes an [`Error`](crate::Error) that names the worker, its pid and the
//! cause ([`ErrorKind::Panic`](crate::ErrorKind::Panic),
//! [`Exit`](crate::ErrorKind::Exit), [`Signal`](crate::ErrorKind::Signal)):
//! `` worker `worker-3` (pid 1234) was killed by SIGSEGV ``. A child still
//! running at the `timeout` is killed with `SIGKILL` and reaped; its outcome is
//! [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
//!
//! # Fork and threads
//!
//! `fork` copies only the calling thread. A lock that another thread of the
//! caller held at that moment stays locked forever in the child, so a task
//! that takes it hangs. fanout holds the std stdout and stderr locks across
//! each fork (and flushes stdout first, so text buffered by `print!` appears
//! once), which makes printing safe in the child; the C allocator protects its
//! own locks. Other locks (a `Mutex` shared with a thread that keeps running,
//! a logger's buffer) are not protected: keep child tasks simple, and give them
//! their own data rather than locks other threads use.
//!
//! fanout never waits long for the stdio locks: once per group it checks, on
//! a helper thread, that they can be taken within 100 ms. If another thread
//! holds one of them long-term (`let out = stdout().lock();` around a
//! `spawn_threads!` that forks), the group forks without them, and its
//! children **cannot print**: a `print!` there waits forever for a lock whose
//! owner does not exist in the child (a `timeout` still ends it).
//!
//! # What a child cannot escape
//!
//! - Its channel to the parent is never fd 0, 1 or 2, also in a program that
//!   closed its stdin or stdout: `println!` in a child never reaches it.
//! - The `timeout` holds whatever the child does: one that closed its pipe
//!   or `exec`ed another program and runs on is killed at the deadline,
//!   reaped, and reported as timed out.
//! - No child outlives the macro that started it: if the caller panics while
//!   children run (a task's capture whose `Drop` panics, say), they are killed
//!   and reaped before the panic goes on. On Linux a child dies with its
//!   parent (`PR_SET_PDEATHSIG`), so `SIGKILL`, `SIGTERM` or `SIGINT` to the
//!   parent alone ends its children too. (The kernel sends that signal when
//!   the *thread* that forked ends: the macro's thread, which waits for its
//!   children.)
//! - A child forked inside a Tokio runtime runs its task on a fresh thread,
//!   so that it may start a runtime of its own (`fanout::run`,
//!   `Runtime::new`). That thread sees the default value of the caller's
//!   other thread-locals.
//! - A panic while serializing the output is reported as the task's panic;
//!   under `panic = "abort"`, a panic hook set in the child sends the panic
//!   message to the parent before the child aborts.

mod scope;
mod wire;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::map::items::{ItemCursor, ItemSource, RangeCursor, VecCursor};
pub use scope::{ChildHandle, Scope, any_output, ok_output, race, race_each, scope, spawn_each};

/// How often the parent checks, while waiting, for a child that ended without
/// closing its pipe (because another process inherited a copy of it).
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A value that can come back from a child process: serializable with serde.
///
/// Implemented for every type that is `serde::Serialize` and
/// `serde::de::DeserializeOwned`: numbers, `String`, `Vec`, tuples, `Option`,
/// `Result`, and your own types with
/// `#[derive(serde::Serialize, serde::Deserialize)]`.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Info {
///     pid: u32,
///     name: String,
/// }
///
/// let info = fanout::spawn_processes!(|| Info {
///     pid: std::process::id(),
///     name: fanout::current_name().unwrap_or_default(),
/// });
/// assert_ne!(info.pid, std::process::id());
/// assert_eq!(info.name, "task");
/// ```
#[diagnostic::on_unimplemented(
    message = "the output of a process task must be serializable, but `{Self}` is not",
    label = "this output cannot be sent back from the child process to the caller",
    note = "a task in a child process sends its output to the caller as bytes, so the output must implement `serde::Serialize` and `serde::Deserialize`",
    note = "derive them on your type: `#[derive(serde::Serialize, serde::Deserialize)]`, or return a serializable value instead (a `String`, a number, a `Vec` of them, ...)"
)]
pub trait ProcessOutput: Serialize + DeserializeOwned + 'static {}

// Not recommended: when a type is not serializable, rustc reports the
// missing `ProcessOutput` (one error, with the message above) rather than
// each missing serde trait.
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + 'static> ProcessOutput for T {}

/// Options of a group of child processes
/// (`spawn_processes!(...; timeout = D, progress, timeline)`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProcessOptions {
    /// Children still running this long after the start of the group are
    /// killed (`SIGKILL`) and reaped; their outcome is a timed-out error.
    pub timeout: Option<std::time::Duration>,
    /// Show a progress bar on stderr (`progress`).
    pub progress: bool,
    /// Print a chart of when each child ran on stderr afterwards (`timeline`).
    pub timeline: bool,
}

impl ProcessOptions {
    /// The default options: no timeout, no progress bar, no timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deadline, measured from the start of the group.
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
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
