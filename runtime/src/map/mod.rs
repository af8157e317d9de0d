//! The one map engine: `pool_map!(f, items)` on threads, on forked
//! processes, or on MPI ranks (Python's `ThreadPoolExecutor.map`,
//! `ProcessPoolExecutor.map`, `MPIPoolExecutor.map`).
//!
//! Every backend follows the same rules, decided here once:
//!
//! - the outputs come back in input order; an empty input starts no worker;
//! - at most `workers` items run at once, and `min(workers, items)` run from
//!   the start: every allowed worker starts while there is work for it;
//! - a worker takes `chunksize` consecutive items at a time (by default about
//!   four chunks per worker), but answers for each item as it ends: an item
//!   that ended keeps its output whatever happens to its neighbours;
//! - the mode ([`Unwrap`], [`Catch`], [`Try`], [`TryCatch`]) says what a
//!   failure does. Without `catch`, after the first failure no new item
//!   starts, the items already running end, and the caller panics with the
//!   failure of the lowest index (its message names the worker and quotes the
//!   panic). With `catch`, every item gets its own `Ok` or `Err`. With `try`,
//!   the map returns the error of the lowest index among the items that ran,
//!   and no new item starts once an error is seen;
//! - with a `timeout`, no item starts after the deadline; process items still
//!   running then are killed and reaped; thread and MPI items finish (they
//!   cannot be killed); an item that finished before the deadline keeps its
//!   output; items that never started are timed out;
//! - a worker process that crashes fails the item it was running, alone: the
//!   items it finished keep their outputs and never run twice; it is replaced;
//! - a worker that cannot be started (no thread, or `fork` fails) fails the
//!   items it would have run; the items of the workers that did start still run;
//! - a child process may use every macro, a thread pool included, whatever
//!   its parent did before the fork;
//! - with `init`, each worker builds its state once, before its first item,
//!   and the function takes `(&mut state, item)`; an `init` that panics fails
//!   the items of that worker ([`ErrorKind::Init`](crate::ErrorKind::Init));
//! - with `recycle = N` (processes), a worker process exits after N items and
//!   a fresh one (with a fresh `init`) takes over;
//! - in a program built with `panic = "abort"`, nothing unwinds: an item
//!   that panics on a thread aborts the process, and on MPI its rank (and
//!   `mpirun` the job), `catch` or not; on processes the worker's panic hook
//!   sends the message before the worker aborts, so the item fails as with
//!   unwinding and the worker is replaced.
//!
//! The streams ([`stream_in_order`], [`stream_unordered`], and their
//! `_on_processes` forms) follow the same rules, and yield each outcome as it
//! comes instead of returning once all ended; see [`StreamInOrder`].
//!
//! The layout: [`MapOptions`] (the options), `plan` (which items may start),
//! `mode` (what the map returns, or a stream yields), `sink` (each outcome to
//! its place), `task` (the function, with or without `init`), [`items`] (how
//! the items are taken), one executor per backend, which only runs items and
//! answers for each: [`on_threads`], [`on_processes`], [`on_mpi`], and
//! `stream` (a streaming sink, and its workers on threads or processes).
//!
//! ```
//! use fanout::map::{self, MapOptions, Try};
//! use fanout::WorkerName;
//!
//! let parsed = map::on_threads(&MapOptions::new(), Try, WorkerName::new("parse"), ["1", "x", "3"], |s: &str| s.parse::<u8>());
//! assert!(parsed.is_err());
//! ```

pub mod items;
mod mode;
#[cfg(feature = "pool")]
mod mpi;
mod options;
mod plan;
#[cfg(all(unix, feature = "processes"))]
pub(crate) mod processes;
mod sink;
#[cfg(feature = "pool")]
mod stream;
mod task;
#[cfg(feature = "pool")]
mod threads;

#[cfg(feature = "pool")]
pub use items::{Indexed, IndexedItems};
pub use items::{Items, Sequential, autoref};
pub use mode::{Catch, Mode, Settled, Try, TryAside, TryCatch, Unwrap};
#[cfg(all(feature = "pool", not(feature = "mpi")))]
pub use mpi::MpiFeature;
#[cfg(feature = "pool")]
pub use mpi::{on_mpi, on_mpi_with_init};
pub use options::{MapOptions, default_workers};
#[cfg(all(unix, feature = "processes"))]
pub use processes::{on_processes, on_processes_with_init};
#[cfg(feature = "pool")]
#[doc(hidden)]
pub use stream::refused;
#[cfg(all(unix, feature = "processes", feature = "pool"))]
pub use stream::{
    ProcessItem, stream_in_order_on_processes, stream_in_order_on_processes_with_init,
    stream_unordered_on_processes, stream_unordered_on_processes_with_init,
};
#[cfg(feature = "pool")]
pub use stream::{
    StreamInOrder, StreamUnordered, stream_in_order, stream_in_order_with_init, stream_unordered,
    stream_unordered_with_init,
};
#[cfg(feature = "pool")]
pub use threads::{on_threads, on_threads_with_init};
