// Mistake: `recycle` on a pool of threads.
// Python: `max_tasks_per_child` belongs to `ProcessPoolExecutor`; a
// `ThreadPoolExecutor` refuses it.
// Fix: run the map in processes: `pool_map!(f, items; processes, recycle = 100)`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; recycle = 100);
}
