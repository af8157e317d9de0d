// Mistake: pool_map! without the items to map over.
// Python: `executor.map(square)` raises TypeError only when the line runs.
// Fix: `pool_map!(square, 0..10)`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square);
}
