// Mistake: a `;` with no options after it.
// Python: a trailing comma, `Thread(target=job,)`, is fine; fanout's `;`
// announces options, so nothing after it is a slip worth pointing out.
// Fix: remove the `;`, or add the options: `spawn_threads!(job; catch)`.
fn job() {}

fn main() {
    fanout::spawn_threads!(job;);
}
