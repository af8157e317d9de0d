//! The plan of one map, shared by its workers: which items may still start.
//!
//! No item starts once the map stopped: after a failure that stops it (the
//! mode says which: any failure without `catch`, a task error with `try`) or
//! after the deadline. Items that never started are then cancelled or timed
//! out, by what stopped the map first.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use super::MapOptions;
use crate::error::{Error, ErrorKind};
use crate::name::WorkerName;

const RUNNING: u8 = 0;
const FAILED: u8 = 1;
const TIMED_OUT: u8 = 2;

/// Why a map stopped starting items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// An item failed (or returned an error with `try`).
    Failed,
    /// The deadline passed.
    TimedOut,
}

/// What every worker of one map consults before it starts an item.
pub(crate) struct Plan {
    #[cfg(feature = "pool")]
    pub(crate) len: usize,
    pub(crate) chunk: usize,
    pub(crate) workers: usize,
    pub(crate) base: WorkerName,
    deadline: Option<(Instant, Duration)>,
    stop: AtomicU8,
}

impl Plan {
    /// The plan of a map of `len` items with `options`, starting now.
    #[cfg(feature = "pool")]
    pub(crate) fn new(options: &MapOptions, base: WorkerName, len: usize) -> Self {
        Plan::starting(options, base, len, Instant::now())
    }

    /// The plan of a map that started at `origin`.
    pub(crate) fn starting(
        options: &MapOptions,
        base: WorkerName,
        len: usize,
        origin: Instant,
    ) -> Self {
        Plan {
            #[cfg(feature = "pool")]
            len,
            chunk: options.chunk_for(len),
            workers: options.worker_count().min(len.max(1)),
            base,
            deadline: options
                .timeout_option()
                .map(|limit| (origin + limit, limit)),
            stop: AtomicU8::new(RUNNING),
        }
    }

    /// The plan of a stream, whose length is not known: it takes `chunk`
    /// items at a time on `options.worker_count()` workers, starting now.
    #[cfg(feature = "pool")]
    pub(crate) fn unbounded(options: &MapOptions, base: WorkerName, chunk: usize) -> Self {
        Plan {
            len: usize::MAX,
            chunk,
            workers: options.worker_count(),
            base,
            deadline: options
                .timeout_option()
                .map(|limit| (Instant::now() + limit, limit)),
            stop: AtomicU8::new(RUNNING),
        }
    }

    /// Whether a new item may start now.
    #[inline]
    pub(crate) fn may_start(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) != RUNNING {
            return false;
        }
        match self.deadline {
            Some((deadline, _)) if Instant::now() >= deadline => {
                self.stop(Stop::TimedOut);
                false
            }
            _ => true,
        }
    }

    /// [`may_start`](Plan::may_start) for a hot loop: the deadline copied
    /// into a local of the loop (a register), not read again per item.
    #[cfg(feature = "pool")]
    #[inline]
    pub(crate) fn starter(&self) -> Starter<'_> {
        Starter {
            plan: self,
            deadline: self.deadline.map(|(deadline, _)| deadline),
        }
    }

    /// No new item starts from now on; the first reason given is kept.
    pub(crate) fn stop(&self, why: Stop) {
        let code = match why {
            Stop::Failed => FAILED,
            Stop::TimedOut => TIMED_OUT,
        };
        let _ = self
            .stop
            .compare_exchange(RUNNING, code, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Why the map stopped, if it did.
    pub(crate) fn stopped(&self) -> Option<Stop> {
        match self.stop.load(Ordering::Acquire) {
            FAILED => Some(Stop::Failed),
            TIMED_OUT => Some(Stop::TimedOut),
            _ => None,
        }
    }

    /// The deadline and the limit it came from.
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn deadline(&self) -> Option<(Instant, Duration)> {
        self.deadline
    }

    /// The error of item `index`, which never started (or never answered):
    /// timed out if the deadline stopped the map, cancelled otherwise.
    pub(crate) fn unstarted(&self, index: usize) -> Error {
        let name = self.base.with_index(index);
        match (self.stopped(), self.deadline) {
            (Some(Stop::TimedOut), Some((_, limit))) => Error::new(name, ErrorKind::Timeout(limit)),
            _ => Error::new(name, ErrorKind::Cancelled),
        }
    }
}

/// What [`Plan::starter`] gives: [`Plan::may_start`] with the deadline at hand.
#[cfg(feature = "pool")]
#[derive(Clone, Copy)]
pub(crate) struct Starter<'a> {
    plan: &'a Plan,
    deadline: Option<Instant>,
}

#[cfg(feature = "pool")]
impl Starter<'_> {
    /// Whether a new item may start now ([`Plan::may_start`]).
    #[inline]
    pub(crate) fn may_start(self) -> bool {
        if self.plan.stop.load(Ordering::Relaxed) != RUNNING {
            return false;
        }
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => {
                self.plan.stop(Stop::TimedOut);
                false
            }
            _ => true,
        }
    }
}
