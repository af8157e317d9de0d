// Mistake: a race of tasks whose outputs have different types: the race
// returns the output of whichever finishes first, so it must have one type.
// Python: `asyncio.wait(..., return_when=FIRST_COMPLETED)` hands back a set
// of tasks to inspect; Rust needs the type at compile time.
// Fix: make every task return the same type (an enum, or `.map(...)` each).
async fn by_name() -> String {
    "a".to_owned()
}

async fn by_number() -> u32 {
    1
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(by_name(), by_number(); race);
    });
}
