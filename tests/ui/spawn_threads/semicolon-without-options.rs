// Mistake: a `;` with no options after it.
// Python has no equivalent: this is fanout's own syntax.
// Fix: remove the `;`, or add the options: `spawn_threads!(job; catch)`.
fn job() {}

fn main() {
    fanout::spawn_threads!(job;);
}
