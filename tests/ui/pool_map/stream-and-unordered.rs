// Mistake: both `stream` and `unordered`.
// Python: `Pool.imap` or `Pool.imap_unordered`, one at a time.
// Fix: `stream` for the outputs in input order, `unordered` for
// `(index, output)` as they complete.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    for _ in fanout::pool_map!(square, 0..10; stream, unordered) {}
}
