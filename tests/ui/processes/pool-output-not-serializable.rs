// Mistake: `pool_map!(...; processes)` maps a function whose output is a
// struct that serde cannot serialize; each output comes back from a worker
// process as bytes.
// Python: ProcessPoolExecutor pickles each result in the worker; an object
// that cannot be pickled raises when the result is collected.
// Fix: `#[derive(serde::Serialize, serde::Deserialize)]` on the struct, or
// return a serializable value.
struct Square {
    value: u64,
}

fn square(x: u64) -> Square {
    Square { value: x * x }
}

fn main() {
    let squares = fanout::pool_map!(square, 0..10; processes, workers = 5);
    println!("{}", squares[3].value);
}
