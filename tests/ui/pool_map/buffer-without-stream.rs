// Mistake: `buffer` on a collecting pool_map!.
// Python: `executor.map(f, items, buffersize=64)` still yields lazily; a list
// comprehension over it takes everything.
// Fix: add `stream` (outputs in input order) or `unordered` (in completion
// order), or drop `buffer`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = fanout::pool_map!(square, 0..10; buffer = 4);
}
