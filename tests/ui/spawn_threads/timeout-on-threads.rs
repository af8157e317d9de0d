// Mistake: a timeout on threads.
// Python: `thread.join(timeout=1)` returns after 1 s but the thread keeps
// running in the background: nothing is stopped.
// Fix: threads cannot be cancelled; run the task in a process, which can be
// killed: `spawn_processes!(job; timeout = Duration::from_secs(1))`.
use std::time::Duration;

fn job() {}

fn main() {
    fanout::spawn_threads!(job; timeout = Duration::from_secs(1));
}
