#![deny(missing_docs)]
// All unsafe code is in `sys` (fork, pipes, shared memory, the slots of the
// map engine), each block with its `SAFETY` comment.
#![deny(unsafe_code)]
//! Implementation detail of the [`fanout`](https://docs.rs/fanout) crate: the
//! runtime its macros expand to.
//!
//! Everything here is public and documented, so that the macros' work can be
//! done by hand: each macro's docs show the equivalent code. Depend on `fanout`,
//! not on this crate; its version is pinned to fanout's.
//!
//! | module | what it does | macro |
//! |---|---|---|
//! | [`threads`] | one scoped OS thread per task | `spawn_threads!` |
//! | [`map`] | the one map engine: a function over items on threads, processes or MPI ranks | `pool_map!` |
//! | [`gather`] | futures polled together; [`run`] | `gather!` |
//! | [`outcome`] | failures and `try` results of a group | all |
//! | [`report`] | the `progress` bar and the `timeline` chart | all |
//! | [`unpolled`] | a future returned by a task, unpolled: a compile error | `spawn_threads!`, `pool_map!` |

// One feature per backend (Cargo.toml): `threads`, `pool` (the map engine on threads),
// `processes` (fork and the codec), `gather`, `progress`, `mpi`.
#[cfg(all(unix, feature = "processes"))]
mod codec;
mod error;
#[cfg(not(feature = "gather"))]
mod feature_off;
#[cfg(feature = "gather")]
pub mod gather;
// The map engine: its thread executor with `pool`, its process executor
// (which `spawn_processes!` shares) with `processes`.
#[cfg(any(feature = "pool", all(unix, feature = "processes")))]
pub mod map;
#[cfg(feature = "pool")]
pub mod mpi;
mod name;
pub mod outcome;
#[cfg(all(unix, feature = "processes"))]
pub mod process;
pub mod report;
#[cfg(all(unix, feature = "processes"))]
#[allow(unsafe_code)]
mod sys;
/// Without `fork`, only the slots of the map engine.
#[cfg(all(feature = "pool", not(all(unix, feature = "processes"))))]
#[allow(unsafe_code)]
mod sys {
    pub(crate) mod slots;
}
mod task;
#[cfg(any(
    feature = "threads",
    feature = "pool",
    feature = "gather",
    all(unix, feature = "processes")
))]
mod thread_name;
#[cfg(feature = "threads")]
pub mod threads;
pub mod unpolled;

pub use crate::error::{Error, ErrorKind, panic_message, signal_name};
/// `fanout::run` without the `gather` feature: a compile error that names it.
#[cfg(not(feature = "gather"))]
pub use crate::feature_off::run;
#[cfg(feature = "gather")]
pub use crate::gather::run;
pub use crate::name::{
    NameGuard, NameText, WorkerName, current_name, current_worker, enter, worker_seed,
};
pub use crate::task::Task;

/// `Result<T, fanout::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
