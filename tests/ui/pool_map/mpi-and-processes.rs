// Mistake: two backends for one pool: `mpi` and `processes`.
// Python: `mpi4py.futures.MPIPoolExecutor` and `ProcessPoolExecutor` are two
// executors; one `map` runs on one of them.
// Fix: pick one: `pool_map!(f, items; processes)` forks workers on this
// machine, `pool_map!(f, items; mpi)` spreads the items over an MPI job's ranks.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; mpi, processes);
}
