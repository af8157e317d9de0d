//! The MPI library of this process: started once, on first use, and finished
//! when the process exits (the exit handler is registered through
//! `crate::sys`, which holds all of fanout's unsafe code).

use std::ffi::c_int;
use std::sync::{Mutex, Once, OnceLock, PoisonError};

use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator, SimpleCommunicator};

/// The universe fanout started, finished by the exit handler. `None` when the
/// program started MPI itself (it finishes it too).
static UNIVERSE: Mutex<Option<Universe>> = Mutex::new(None);

static START: Once = Once::new();

/// This process's place in the job, read once: it never changes, and reading
/// it again from a worker thread would be an MPI call on a second thread.
pub(crate) struct Place {
    /// The rank in `MPI_COMM_WORLD`.
    pub(crate) rank: usize,
    /// The number of ranks.
    pub(crate) size: usize,
}

/// This process's rank and the job's size, starting MPI if needed.
pub(crate) fn place() -> &'static Place {
    static PLACE: OnceLock<Place> = OnceLock::new();
    PLACE.get_or_init(|| {
        let world = world();
        Place {
            rank: usize::try_from(world.rank()).unwrap_or(0),
            size: usize::try_from(world.size()).unwrap_or(1),
        }
    })
}

/// `MPI_COMM_WORLD`, after starting MPI if nobody did yet.
///
/// # Panics
/// If MPI was already finished (`MPI_Finalize`): it cannot start again.
pub(crate) fn world() -> SimpleCommunicator {
    START.call_once(|| {
        if mpi::environment::is_finalized() {
            return;
        }
        // Serialized: a map may run on any thread, one map at a time.
        if let Some((universe, _provided)) = mpi::initialize_with_threading(Threading::Serialized) {
            *UNIVERSE.lock().unwrap_or_else(PoisonError::into_inner) = Some(universe);
            finish_at_exit();
        }
    });
    assert!(
        !mpi::environment::is_finalized(),
        "fanout: MPI was already finalized in this process and cannot start again: \
         keep the `mpi::Universe` alive for as long as the program uses pool_map!(...; mpi)"
    );
    SimpleCommunicator::world()
}

/// Finishes the MPI that fanout started, as the process exits with `status`:
/// `MPI_Finalize` after a success; after a failure in a job of several ranks,
/// `MPI_Abort`, so that the other ranks are stopped rather than left waiting.
fn finish(status: c_int) {
    let universe = UNIVERSE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(universe) = universe else { return };
    if mpi::environment::is_finalized() {
        // The program finished MPI itself: nothing is left to do.
        std::mem::forget(universe);
        return;
    }
    let world = SimpleCommunicator::world();
    if status != 0 && world.size() > 1 {
        eprintln!(
            "fanout: MPI rank {} exits with code {status}: aborting the MPI job",
            world.rank()
        );
        world.abort(status);
    }
    drop(universe); // MPI_Finalize
}

/// Registers [`finish`] to run when the process exits (`main` returns, or
/// `std::process::exit`), with the exit status where the C library tells it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn finish_at_exit() {
    extern "C" fn at_exit(status: c_int, _argument: *mut std::ffi::c_void) {
        finish(status);
    }
    crate::sys::at_exit(at_exit);
}

/// Registers [`finish`] to run when the process exits (the status is not
/// known here: MPI is always finalized).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn finish_at_exit() {
    extern "C" fn at_exit() {
        finish(0);
    }
    crate::sys::at_exit(at_exit);
}
