// Mistake: `race` (the first output, the others cancelled) and `stream`
// (every output) together.
// Python: `asyncio.wait(tasks, return_when=FIRST_COMPLETED)` against
// `asyncio.as_completed(tasks)`.
// Fix: one of them: `gather!(mirror_a(), mirror_b(); race)`, or
// `gather!(for m in mirrors => fetch(m); unordered)` and take the first item.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..3 => fetch(i); stream, race);
    });
}
