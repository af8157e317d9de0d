// Mistake: a stream on processes, which is not available yet.
// Python: `ProcessPoolExecutor.map` is lazy; `Pool.imap` too.
// Fix: stream on threads (drop `processes`), or collect on processes (drop
// `stream`).
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    for _ in fanout::pool_map!(square, 0..10; processes, stream) {}
}
