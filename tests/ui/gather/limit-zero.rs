// Mistake: `limit = 0`: no future could ever start.
// Python: `asyncio.Semaphore(0)` makes every task wait forever: a silent hang.
// Fix: at least 1, as in `gather!(for url in urls => fetch(url); limit = 10)`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..5 => fetch(i); limit = 0);
    });
}
