// Mistake: a timeout written as a bare number. Seconds? Milliseconds?
// Python: `asyncio.wait_for(..., timeout=5)` means seconds.
// Fix: a `Duration`: `timeout = Duration::from_secs(5)`.
async fn task() -> u32 {
    1
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(task(); timeout = 5);
    });
}
