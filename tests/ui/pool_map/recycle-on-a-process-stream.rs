// Mistake: `recycle` on a stream in processes.
// Python: `Pool(maxtasksperchild=...)` with `imap` replaces workers; fanout
// forks a stream's workers once, when it starts.
// Fix: drop `recycle`, or drop `stream` to collect with recycled workers.
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    for _ in fanout::pool_map!(square, 0..10; processes, stream, recycle = 5) {}
}
