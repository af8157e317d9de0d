//! MPI ranks mapping a function over items: what `pool_map!(f, items; mpi)`
//! expands to (Python's `mpi4py.futures.MPIPoolExecutor.map`), with fanout's
//! `mpi` feature.
//!
//! # How it runs
//!
//! SPMD, as MPI programs are: `mpirun -n 4 ./sweep` starts the program four
//! times, as ranks 0 to 3. Every rank runs the program from its start,
//! computes the same items and reaches the same `pool_map!`. There:
//!
//! - rank 0 hands the items out in chunks to whichever rank asks for work,
//!   itself included (a thread of rank 0 works while its calling thread
//!   coordinates), so fast ranks take more chunks than slow ones;
//! - only item indexes travel: each rank takes the items of its chunks from
//!   its own copy of the items;
//! - each output goes to rank 0 serialized with postcard, and rank 0
//!   broadcasts them all: every rank returns the whole `Vec`, in input order,
//!   so the program goes on identically everywhere.
//!
//! Chunks shrink as the work runs out (guided scheduling: each chunk is the
//! remaining items over twice the number of workers), so the ranks finish
//! together; the `chunksize = N` option fixes the chunk size instead.
//! `workers = N` runs N threads on each rank (default 1: one rank per core
//! is MPI's own way). Outside `mpirun` the program is a single rank, which
//! runs every item itself.
//!
//! # Requirements
//!
//! - Outputs cross processes, so they must be serializable:
//!   [`ProcessOutput`](crate::process::ProcessOutput), as for the process
//!   pool (`serde::Serialize + Deserialize`); items need not be, but every rank must compute the
//!   same items in the same order (a rank with a different number of items
//!   makes every rank panic).
//! - Every rank calls the same `pool_map!(...; mpi)` maps in the same order,
//!   one at a time: a nested map, or one started while another runs on another
//!   thread, panics.
//!
//! # Failures
//!
//! A panicking item is a task failure as on the other pools: its outcome is an
//! [`fanout::Error`](crate::Error) naming the item's worker (`simulate-7`) and quoting
//! the panic, with the rank that ran it (`boom (on MPI rank 2)`). Every rank
//! gets the same outcomes, so without `catch` every rank panics with the same
//! message. With `try`, once item `k` returns `Err` its rank starts no item
//! after `k`, and once rank 0 learns of it (with the chunk's outputs) it hands
//! out no chunk after `k` and tells the ranks to skip the items after `k`;
//! items never started have the outcome
//! [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled). Every item before
//! `k` still runs, so the lowest-index error is found whatever the scheduling.
//!
//! With `timeout = DURATION`, no item starts after the deadline (from the
//! start of the map): those items' outcome is a timed-out
//! [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error. An item already
//! running then goes on to its end, as a thread cannot be stopped from outside.
//!
//! A rank that dies (a signal, an abort, a `panic = "abort"` panic) is MPI's
//! business: `mpirun` notices the lost process, kills the other ranks and
//! exits non-zero with a message naming the rank and its signal. A rank whose
//! program ends with a non-zero exit code (an uncaught panic, for example)
//! calls `MPI_Abort` with that code on its way out, so the whole job stops
//! rather than waits for it.
//!
//! # MPI itself
//!
//! fanout starts MPI the first time it is needed, requesting
//! `MPI_THREAD_SERIALIZED` (a map may be called from any thread, one at a
//! time), and finishes it when the process exits (`MPI_Finalize`, or
//! `MPI_Abort` after a non-zero exit code on glibc Linux). A program that uses
//! the `mpi` crate itself starts MPI first (`mpi::initialize()`) and keeps
//! its `Universe`: fanout then uses it and leaves finishing it to the program.
//! Each map works on its own duplicate of `MPI_COMM_WORLD`, so its messages
//! never mix with the program's.
//!
//! # Without the `mpi` feature
//!
//! The module holds only `map`, `map_unwrap` and `try_map` with a bound,
//! `MpiFeature`, that nothing implements: `pool_map!(...; mpi)` then fails to
//! compile with "pool_map!(...; mpi) needs fanout's `mpi` feature" and a note
//! on how to turn it on. A default build needs no MPI library at all.

#[cfg(feature = "mpi")]
mod schedule;
#[cfg(feature = "mpi")]
mod world;

#[cfg(not(feature = "mpi"))]
use crate::{error::Error, name::WorkerName, pool::PoolOptions};

#[cfg(feature = "mpi")]
pub use enabled::*;

#[cfg(feature = "mpi")]
mod enabled {
    use std::fmt::Display;

    use super::{schedule, world};
    use crate::error::Error;
    use crate::name::WorkerName;
    use crate::pool::PoolOptions;
    use crate::process::ProcessOutput;

    /// This process's rank in the MPI job: 0 to [`size`]` - 1` (0 outside
    /// `mpirun`). Starts MPI if needed; read once, then free to call from any
    /// thread, inside items too.
    ///
    /// ```
    /// assert!(fanout_runtime::mpi::rank() < fanout_runtime::mpi::size());
    /// ```
    pub fn rank() -> usize {
        world::place().rank
    }

    /// The number of ranks in the MPI job (`mpirun -n 4` gives 4; 1 outside
    /// `mpirun`). Starts MPI if needed.
    pub fn size() -> usize {
        world::place().size
    }

    /// Whether this process is rank 0, the rank that coordinates the maps.
    pub fn is_root() -> bool {
        rank() == 0
    }

    /// Prints `text` and a newline on rank 0 only: Python's `print` for the
    /// lines an MPI program would otherwise print once per rank.
    ///
    /// ```
    /// let points = 48;
    /// fanout_runtime::mpi::print_once(format_args!("sweeping {points} points"));
    /// ```
    pub fn print_once(text: impl Display) {
        if is_root() {
            println!("{text}");
        }
    }

    /// Maps `f` over `items` on the ranks of the MPI job and returns the
    /// outcome of every item, in input order, on every rank
    /// (`pool_map!(f, items; mpi, catch)`).
    ///
    /// Every item runs, even when others panic. Item `k` runs as the worker
    /// `base-k`. See the [module docs](crate::mpi) for how the items are shared out.
    ///
    /// ```
    /// use fanout_runtime::{WorkerName, mpi, pool::PoolOptions};
    ///
    /// let outcomes = mpi::map(&PoolOptions::new(), WorkerName::new("check"), 0..4, |x: u32| {
    ///     assert!(x != 2, "two is not allowed");
    ///     x * 10
    /// });
    /// assert_eq!(outcomes[1].as_ref().ok(), Some(&10));
    /// let failure = outcomes[2].as_ref().unwrap_err();
    /// assert_eq!(failure.worker(), "check-2");
    /// assert_eq!(failure.panic_message(), Some("two is not allowed (on MPI rank 0)"));
    /// ```
    pub fn map<I, F, T>(
        options: &PoolOptions,
        base: WorkerName,
        items: I,
        f: F,
    ) -> Vec<Result<T, Error>>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> T + Sync,
        T: ProcessOutput + Send,
    {
        schedule::run(options, base, items.into_iter().collect(), f, |_| false)
    }

    /// Maps `f` over `items` on the ranks of the MPI job and returns every
    /// output, in input order, on every rank (`pool_map!(f, items; mpi)`).
    ///
    /// # Panics
    /// If an item panics: every rank panics once all items ended, with a
    /// message that names the item's worker (`simulate-7`), quotes its panic
    /// and says which rank ran it; several failures are listed together.
    ///
    /// ```
    /// use fanout_runtime::{WorkerName, mpi, pool::PoolOptions};
    ///
    /// let squares = mpi::map_unwrap(&PoolOptions::new(), WorkerName::new("square"), 0..10u64, |x| x * x);
    /// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    /// ```
    #[track_caller]
    pub fn map_unwrap<I, F, T>(options: &PoolOptions, base: WorkerName, items: I, f: F) -> Vec<T>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> T + Sync,
        T: ProcessOutput + Send,
    {
        crate::outcome::unwrap_all(map(options, base, items, f))
    }

    /// Maps `f`, whose outputs are `Result<T, E>`, over `items` on the ranks
    /// of the MPI job, for the `try` option: once item `k` returns `Err`, no
    /// item after `k` starts (its outcome is a cancelled error) while every
    /// item before `k` still runs, so the lowest-index error is found whatever
    /// the scheduling. Both `T` and `E` cross ranks, so both are serializable.
    ///
    /// ```
    /// use fanout_runtime::{WorkerName, mpi, outcome, pool::PoolOptions};
    ///
    /// let parsed = mpi::try_map(&PoolOptions::new(), WorkerName::new("parse"), ["1", "x", "3"], |s| {
    ///     s.parse::<i32>().map_err(|e| e.to_string())
    /// });
    /// assert_eq!(outcome::try_all(parsed), Err("invalid digit found in string".to_owned()));
    /// ```
    pub fn try_map<I, F, T, E>(
        options: &PoolOptions,
        base: WorkerName,
        items: I,
        f: F,
    ) -> Vec<Result<Result<T, E>, Error>>
    where
        I: IntoIterator,
        I::Item: Send,
        F: Fn(I::Item) -> Result<T, E> + Sync,
        T: ProcessOutput + Send,
        E: ProcessOutput + Send,
    {
        schedule::run(
            options,
            base,
            items.into_iter().collect(),
            f,
            Result::is_err,
        )
    }
}

// Without the `mpi` feature: the functions `pool_map!(...; mpi)` expands to
// exist, but their bound `MpiFeature` is never met, so the program fails to
// compile with a message that says how to turn MPI on.

/// Implemented by nothing: the bound that makes `pool_map!(...; mpi)` fail to
/// compile, with a message that names the missing `mpi` feature, when fanout
/// is built without it.
#[cfg(not(feature = "mpi"))]
#[diagnostic::on_unimplemented(
    message = "pool_map!(...; mpi) needs fanout's `mpi` feature",
    label = "`mpi` is off: this function cannot run on MPI ranks",
    note = "add `features = [\"mpi\"]` to the fanout dependency, install MPI (apt-get install openmpi-bin libopenmpi-dev) and run under mpirun"
)]
pub trait MpiFeature {}

/// Stands for `map` of the `mpi` feature; cannot be called without it.
#[cfg(not(feature = "mpi"))]
pub fn map<I, F, T>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<T, Error>>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T + MpiFeature,
{
    let _ = (options, base, items, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}

/// Stands for `map_unwrap` of the `mpi` feature; cannot be called without it.
#[cfg(not(feature = "mpi"))]
pub fn map_unwrap<I, F, T>(options: &PoolOptions, base: WorkerName, items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T + MpiFeature,
{
    let _ = (options, base, items, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}

/// Stands for `try_map` of the `mpi` feature; cannot be called without it.
#[cfg(not(feature = "mpi"))]
pub fn try_map<I, F, T, E>(
    options: &PoolOptions,
    base: WorkerName,
    items: I,
    f: F,
) -> Vec<Result<Result<T, E>, Error>>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Result<T, E> + MpiFeature,
{
    let _ = (options, base, items, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}
