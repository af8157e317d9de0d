// Mistake: with `spawn`, a loop-form `async { }` block borrows a local.
// Without `spawn` it may: each future owns the loop variable and borrows the
// rest. A spawned Tokio task may outlive the function that spawned it, so it
// must own its data.
// Python: a task keeps its arguments alive by reference counting.
// Fix: `async move` over owned data (an `Arc` cloned per task), or leave out
// `spawn`.
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn main() {
    fanout::run(async {
        let started = AtomicUsize::new(0);
        let out = fanout::gather!(for i in 0..3 => async { started.fetch_add(1, SeqCst); i }; spawn);
        println!("{out:?}");
    });
}
