// Mistake: gather! in a plain (not async) function. It awaits its futures, so
// it must be inside async code.
// Python: `await` outside an `async def` is a SyntaxError; calling
// `asyncio.gather(...)` without awaiting it gives a future nobody waits for.
// Fix: run it inside `fanout::run(async { ... })` (asyncio.run), an
// `async fn`, or `#[tokio::main] async fn main()`.
async fn task1() -> u32 {
    1
}

async fn task2() -> u32 {
    2
}

fn main() {
    let (a, b) = fanout::gather!(task1(), task2());
    println!("{a} {b}");
}
