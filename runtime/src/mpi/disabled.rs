//! Without the `mpi` feature: the functions `pool_map!(...; mpi)` expands to
//! exist, but their bound [`MpiFeature`] is never met, so the program fails to
//! compile with a message that says how to turn MPI on.

use crate::error::Error;
use crate::name::WorkerName;
use crate::pool::PoolOptions;

/// Implemented by nothing: the bound that makes `pool_map!(...; mpi)` fail to
/// compile, with a message that names the missing `mpi` feature, when fanout
/// is built without it.
#[diagnostic::on_unimplemented(
    message = "pool_map!(...; mpi) needs fanout's `mpi` feature",
    label = "`mpi` is off: this function cannot run on MPI ranks",
    note = "add `features = [\"mpi\"]` to the fanout dependency, install MPI (apt-get install openmpi-bin libopenmpi-dev) and run under mpirun"
)]
pub trait MpiFeature {}

/// Stands for `map` of the `mpi` feature; cannot be called without it.
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
pub fn map_unwrap<I, F, T>(options: &PoolOptions, base: WorkerName, items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T + MpiFeature,
{
    let _ = (options, base, items, f);
    unreachable!("fanout: `MpiFeature` has no implementation")
}

/// Stands for `try_map` of the `mpi` feature; cannot be called without it.
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
