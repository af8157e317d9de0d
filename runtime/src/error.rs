//! [`Error`]: what went wrong in one worker.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The failure of one worker: which worker, and why.
///
/// Every macro reports failures with this type. Without the `catch` option a
/// failure makes the caller panic with this error's message (after every other
/// worker has ended); with `catch` each output is a `Result<T, Error>`, in the
/// spirit of Python's `asyncio.gather(..., return_exceptions=True)`.
///
/// The [`Display`](fmt::Display) form names the worker and the cause:
///
/// ```
/// use fanout::{Error, ErrorKind, WorkerName};
///
///
/// let err = Error::new(WorkerName::indexed("worker", 3), ErrorKind::Panic("boom".into()));
/// assert_eq!(err.to_string(), "worker `worker-3` panicked: boom");
/// assert_eq!(err.worker(), "worker-3");
/// assert!(err.is_panic());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    // Boxed: a `Result<T, Error>` stays as small as possible for the millions
    // of items a pool or a gather may hold.
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    worker: String,
    pid: Option<u32>,
    kind: ErrorKind,
    /// The lower-level error behind `kind` (a decoder's own error, ...), for
    /// [`std::error::Error::source`]. Shared, so that `Error` stays `Clone`.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

// The source is left out: two errors are equal when they say the same thing
// about the same worker.
impl PartialEq for Inner {
    fn eq(&self, other: &Self) -> bool {
        self.worker == other.worker && self.pid == other.pid && self.kind == other.kind
    }
}

impl Eq for Inner {}

/// Why a worker failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The task panicked; the payload's message (or a placeholder when the
    /// payload was not a string).
    Panic(String),
    /// A child process exited with this non-zero code before sending its output.
    Exit(i32),
    /// A child process was killed by this signal (`SIGSEGV`, `SIGKILL`, ...).
    Signal(i32),
    /// The task was still running at its deadline and was stopped.
    Timeout(Duration),
    /// The task was cancelled before it finished, because another task of a
    /// `try` group failed first.
    Cancelled,
    /// The output could not be carried back from a child process.
    Transport(String),
    /// A child process could not serialize its output (its `Serialize` impl
    /// failed, or the value has a shape the encoding refuses).
    Encode(String),
    /// A child process sent an output that the parent could not decode (it
    /// does not read back as the output's type, or it is malformed, or nested
    /// deeper than the decoder allows).
    Decode(String),
    /// The worker could not be started (no thread or process could be created).
    Spawn(String),
    // pool_map!'s `init` (issue 12).
    /// The worker's `init` (the state it builds once, before its first item)
    /// panicked, with this message: every item of that worker fails with it.
    Init(String),
}

impl Error {
    /// Creates an error for the worker `worker`.
    pub fn new(worker: impl fmt::Display, kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                worker: worker.to_string(),
                pid: None,
                kind,
                source: None,
            }),
        }
    }

    /// Records the process id of the worker (process workers only).
    #[must_use]
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.inner.pid = Some(pid);
        self
    }

    /// Records the lower-level error behind this one, returned by
    /// [`source`](std::error::Error::source) (a decoder's own error, an I/O
    /// error, ...). Equality ignores it.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Builds a [`ErrorKind::Panic`] error from a panic payload, keeping its message.
    pub fn from_panic(worker: impl fmt::Display, payload: &(dyn std::any::Any + Send)) -> Self {
        Error::new(worker, ErrorKind::Panic(panic_message(payload)))
    }

    /// The name of the worker that failed (`worker-3`, `print_numbers`, ...).
    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    /// The process id of the worker, for process workers.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// Why the worker failed.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Whether the worker panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Panic(_))
    }

    /// Whether the worker was stopped at its deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout(_))
    }

    /// The panic message, if the worker panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.inner.kind {
            ErrorKind::Panic(message) => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker `{}`", self.inner.worker)?;
        if let Some(pid) = self.inner.pid {
            write!(f, " (pid {pid})")?;
        }
        match &self.inner.kind {
            ErrorKind::Panic(message) => write!(f, " panicked: {message}"),
            ErrorKind::Exit(code) => write!(f, " exited with code {code}"),
            ErrorKind::Signal(signal) => write!(f, " was killed by {}", signal_name(*signal)),
            ErrorKind::Timeout(limit) => write!(f, " timed out after {limit:?}"),
            ErrorKind::Cancelled => write!(f, " was cancelled because another task failed"),
            ErrorKind::Transport(why) => write!(f, " could not send its output: {why}"),
            ErrorKind::Encode(why) => write!(f, " could not serialize its output: {why}"),
            ErrorKind::Decode(why) => {
                write!(f, " sent an output that could not be decoded: {why}")
            }
            ErrorKind::Spawn(why) => write!(f, " could not be started: {why}"),
            // pool_map!'s `init` (issue 12).
            ErrorKind::Init(why) => {
                write!(f, " did not run: the `init` of its worker panicked: {why}")
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug shows the message too, so `unwrap()` on a caught result reads well.
        write!(f, "Error({self})")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.inner.source.as_deref()?;
        Some(source)
    }
}

/// An [`std::io::Error`] of kind [`Other`](std::io::ErrorKind::Other) that
/// carries the fanout error: it displays as it, and
/// [`get_ref`](std::io::Error::get_ref), [`into_inner`](std::io::Error::into_inner)
/// and [`downcast`](std::io::Error::downcast) give it back. (As for every
/// custom `io::Error`, its own `source()` is the fanout error's `source()`.)
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        std::io::Error::other(error)
    }
}

/// The text of a panic payload: the `&str` or `String` given to `panic!`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(e) = payload.downcast_ref::<Error>() {
        e.to_string()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// The conventional name of a signal number (`SIGSEGV` for 11 on Linux).
///
/// ```
/// assert_eq!(fanout::signal_name(9), "SIGKILL");
/// ```
pub fn signal_name(signal: i32) -> String {
    match known_signal(signal) {
        Some(name) => name.to_owned(),
        None => format!("signal {signal}"),
    }
}

/// Only a child process dies by a signal: without the `processes` feature
/// (and its libc) there are no names to give.
#[cfg(not(all(unix, feature = "processes")))]
fn known_signal(_: i32) -> Option<&'static str> {
    None
}

#[cfg(all(unix, feature = "processes"))]
fn known_signal(signal: i32) -> Option<&'static str> {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn decode_error() -> Error {
        Error::new("worker-1", ErrorKind::Decode("invalid type".into())).with_pid(7)
    }

    #[test]
    fn an_error_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn encode_and_decode_say_which_side_failed() {
        let err = Error::new("square-2", ErrorKind::Encode("no thanks".into()));
        assert_eq!(
            err.to_string(),
            "worker `square-2` could not serialize its output: no thanks"
        );
        assert_eq!(
            decode_error().to_string(),
            "worker `worker-1` (pid 7) sent an output that could not be decoded: invalid type"
        );
    }

    #[test]
    fn the_source_is_kept_through_clones_and_ignored_by_equality() {
        assert!(decode_error().source().is_none());
        let why = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad marker");
        let err = decode_error().with_source(why);
        let copy = err.clone();
        for err in [&err, &copy] {
            let source = err.source().expect("a source");
            assert_eq!(source.to_string(), "bad marker");
            assert!(source.is::<std::io::Error>());
        }
        assert_eq!(err, decode_error());
    }

    #[test]
    fn an_io_error_carries_the_fanout_error() {
        let why = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad marker");
        let io = std::io::Error::from(decode_error().with_source(why));
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        assert_eq!(io.to_string(), decode_error().to_string());
        assert_eq!(io.source().unwrap().to_string(), "bad marker");
        let inner = io.downcast::<Error>().expect("the fanout error");
        assert_eq!(inner, decode_error());
    }
}
