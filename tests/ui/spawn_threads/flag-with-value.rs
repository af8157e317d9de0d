// Mistake: a value given to a flag. `catch` is on when written, off otherwise.
// Python: `return_exceptions=True` takes a value; fanout's flags do not.
// Fix: write the flag alone: `spawn_threads!(job; catch)`.
fn job() {}

fn main() {
    let _ = fanout::spawn_threads!(job; catch = true);
}
