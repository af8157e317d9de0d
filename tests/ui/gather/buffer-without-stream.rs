// Mistake: `buffer` on a gather that collects: it returns only once every
// item ran, so there is nothing to read ahead of.
// Python: `Executor.map(fn, items, buffersize=8)` is lazy; `asyncio.gather`
// takes every task at once.
// Fix: stream the outputs, `gather!(for i in 0..100 => fetch(i); stream, buffer = 8)`,
// or bound the futures in flight with `limit = 8`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..100 => fetch(i); buffer = 8);
    });
}
