//! The MPI executor, with fanout's `mpi` feature: see [`crate::mpi`] for how
//! a map runs on the ranks of an MPI job.
//!
//! Without the feature this module holds only [`on_mpi`] with a bound,
//! `MpiFeature`, that nothing implements: `pool_map!(...; mpi)` then fails to
//! compile with "pool_map!(...; mpi) needs fanout's `mpi` feature" and a note
//! on how to turn it on. A default build needs no MPI library at all.

#[cfg(feature = "mpi")]
#[path = "mpi_schedule.rs"]
mod schedule;

#[cfg(feature = "mpi")]
pub use schedule::{on_mpi, on_mpi_with_init};

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

/// Stands for `on_mpi` of the `mpi` feature; cannot be called without it.
#[cfg(not(feature = "mpi"))]
pub fn on_mpi<M, I, F, U>(
    options: &super::MapOptions,
    mode: M,
    name: crate::WorkerName,
    items: I,
    f: F,
) -> M::Output
where
    M: super::Mode<U>,
    I: IntoIterator,
    F: Fn(I::Item) -> U + MpiFeature,
{
    let _ = (options, mode, name, items, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}

/// Stands for `on_mpi_with_init` of the `mpi` feature; cannot be called
/// without it.
#[cfg(not(feature = "mpi"))]
pub fn on_mpi_with_init<M, I, G, S, F, U>(
    options: &super::MapOptions,
    mode: M,
    name: crate::WorkerName,
    items: I,
    init: G,
    f: F,
) -> M::Output
where
    M: super::Mode<U>,
    I: IntoIterator,
    G: Fn() -> S,
    F: Fn(&mut S, I::Item) -> U + MpiFeature,
{
    let _ = (options, mode, name, items, init, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}
