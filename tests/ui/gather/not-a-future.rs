// Mistake: a plain function call given to gather!; it returns a number, not
// a future.
// Python: `await asyncio.gather(compute(1), task())` raises "TypeError: An
// asyncio.Future, a coroutine or an awaitable is required" when it runs.
// Fix: gather! awaits futures: make `compute` an `async fn`, or run plain
// functions on threads with `spawn_threads!(|| compute(1), ...)`.
fn compute(x: u32) -> u32 {
    x * 2
}

async fn task() -> u32 {
    1
}

fn main() {
    fanout::run(async {
        let (a, b) = fanout::gather!(compute(1), task());
        println!("{a} {b}");
    });
}
