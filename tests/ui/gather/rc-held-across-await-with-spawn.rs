// Mistake: with `spawn`, each future runs as its own Tokio task, possibly on
// another thread, but this one keeps an `Rc` alive across an `.await`.
// Python: asyncio runs every task on one thread, so this question never comes
// up; with threads it would be a race on the reference count.
// Fix: `Arc` instead of `Rc`, drop the `Rc` before the `.await`, or leave out
// `spawn` (gather! then polls the futures on the current task, which needs no `Send`).
use std::rc::Rc;

async fn work() -> usize {
    let shared = Rc::new(5);
    tokio::task::yield_now().await;
    *shared
}

async fn other() -> usize {
    1
}

fn main() {
    fanout::run(async {
        let (a, b) = fanout::gather!(work(), other(); spawn);
        println!("{a} {b}");
    });
}
