// Mistake: pool_map! written with the loop form of the other macros.
// Python: `executor.map(worker, range(5))` takes the function and the items.
// Fix: `pool_map!(worker, 0..5)`, or one thread per item with
// `spawn_threads!(for i in 0..5 => worker(i))`.
fn worker(i: u32) -> u32 {
    i
}

fn main() {
    let _ = fanout::pool_map!(for i in 0..5 => worker(i));
}
