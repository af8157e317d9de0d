// Mistake: `workers`, an option of pool_map!, given to gather!.
// Python: the asyncio equivalent is a Semaphore, not a pool size.
// Fix: at most N futures at once is `limit = N`:
// `gather!(for i in 0..5 => fetch(i); limit = 2)`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..5 => fetch(i); workers = 2);
    });
}
