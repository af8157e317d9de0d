// pool_map!(...; mpi) in a program built without fanout's `mpi` feature.

fn simulate(damping: f64) -> f64 {
    damping * 2.0
}

fn main() {
    let results = fanout::pool_map!(simulate, [0.1, 0.2]; mpi);
    println!("{results:?}");
}
