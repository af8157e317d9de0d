// Mistake: a timeout written as a bare number.
// Python: `process.join(timeout=5)` means seconds (and then leaves the
// process running).
// Fix: a `Duration`: `timeout = Duration::from_secs(5)`; the child is killed
// at the deadline.
fn job() {}

fn main() {
    fanout::spawn_processes!(job; timeout = 5);
}
