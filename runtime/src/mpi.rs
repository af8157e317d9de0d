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
//! - each output goes to rank 0 encoded on its own, and rank 0 broadcasts
//!   them all: every rank returns the whole `Vec`, in input order, so the
//!   program goes on identically everywhere.
//!
//! `workers = N` means what it means on every backend: at most N items run at
//! once, over the whole job (rank `r` runs `N / size` threads, one more for
//! the first `N % size` ranks); by default N is the number of ranks, one item
//! per rank at a time, MPI's own way. `chunksize` and its default (about four
//! chunks per worker) are those of every backend too. Outside `mpirun` the
//! program is a single rank, which runs every item itself.
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
//! message. Without `catch` (and with `try`, once an item returned `Err`),
//! the rank that saw the failure starts no new item, and once rank 0 learns
//! of it (with the chunk's outcomes) it hands out no more chunks and tells the
//! ranks it gives work to; items never started are
//! [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled). An output that
//! cannot be encoded fails its own item, as on processes.
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
//! # The map itself
//!
//! [`map::on_mpi`](crate::map::on_mpi) is the executor: the engine's
//! options, modes and failure rules are those of every backend
//! ([`crate::map`]). Without the `mpi` feature it cannot be called, and
//! `pool_map!(...; mpi)` fails to compile with a message that says how to turn
//! MPI on.

#[cfg(feature = "mpi")]
pub(crate) mod world;

#[cfg(feature = "mpi")]
pub use enabled::*;

#[cfg(feature = "mpi")]
mod enabled {
    use std::fmt::Display;

    use super::world;

    /// This process's rank in the MPI job: 0 to [`size`]` - 1` (0 outside
    /// `mpirun`). Starts MPI if needed; read once, then free to call from any
    /// thread, inside items too.
    ///
    /// ```
    /// // In your code: `fanout::mpi::rank()`. This page names the runtime because
    /// // the facade re-exports `mpi` only with its own `mpi` feature, which the
    /// // runtime's `--features mpi` leaves off.
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
    /// // In your code: `fanout::mpi::print_once` (see `rank`: the facade
    /// // re-exports `mpi` only with its own `mpi` feature).
    /// fanout_runtime::mpi::print_once(format_args!("sweeping {points} points"));
    /// ```
    pub fn print_once(text: impl Display) {
        if is_root() {
            println!("{text}");
        }
    }
}
