// Mistake: `limit`, an option of gather!, given to pool_map!.
// Python: `executor.map(square, items, limit=2)` raises TypeError when it runs.
// Fix: a pool's size is `workers`: `pool_map!(square, 0..10; workers = 2)`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; limit = 2);
}
