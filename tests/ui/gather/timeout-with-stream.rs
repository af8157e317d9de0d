// Mistake: a `timeout` on a stream, which is consumed at the caller's pace.
// Python: `asyncio.as_completed(tasks, timeout=5)` raises at the deadline,
// even when the consumer was the slow one.
// Fix: bound each task, `tokio::time::timeout(Duration::from_secs(5), fetch(i))`,
// or drop `stream` to collect with a deadline.
use std::time::Duration;

async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..3 => fetch(i); stream, timeout = Duration::from_secs(5));
    });
}
