// Mistake: `buffer = 0`: the stream could never take an item.
// Python: `Executor.map(fn, items, buffersize=0)` raises `ValueError`.
// Fix: at least 1, as in `gather!(for i in 0.. => fetch(i); stream, buffer = 8)`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0.. => fetch(i); stream, buffer = 0);
    });
}
