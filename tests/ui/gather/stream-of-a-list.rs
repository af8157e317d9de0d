// Mistake: `stream` on a fixed list of tasks, whose outputs may have
// different types (a stream yields one type).
// Python: `asyncio.as_completed([a(), b()])` yields one awaitable at a time.
// Fix: the loop form, `gather!(for i in 0..2 => fetch(i); stream)`, or
// await the list whole: `gather!(fetch(0), fetch(1))`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(fetch(0), fetch(1); stream);
    });
}
