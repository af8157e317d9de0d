// Mistake: a closure given to gather! instead of a future.
// Python: `asyncio.gather(lambda: task())` raises TypeError when it runs.
// Fix: call the async function, `gather!(task(), task())`, or write an
// `async { ... }` block.
async fn task() -> u32 {
    1
}

fn main() {
    fanout::run(async {
        let (a, b) = fanout::gather!(|| task(), task());
        println!("{a} {b}");
    });
}
