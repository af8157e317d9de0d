// Mistake: the loop form's task is a plain function call, not a future.
// Python: `await asyncio.gather(*(compute(i) for i in range(3)))` raises
// TypeError when it runs.
// Fix: `async fn compute`, or `pool_map!(compute, 0..3)` for plain functions.
fn compute(x: u32) -> u32 {
    x * 2
}

fn main() {
    fanout::run(async {
        let doubled = fanout::gather!(for i in 0..3 => compute(i));
        println!("{doubled:?}");
    });
}
