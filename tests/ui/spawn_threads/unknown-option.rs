// Mistake: a misspelled option.
// Python: a misspelled keyword argument raises TypeError only when the line runs.
// Fix: the message suggests the nearest known option: `catch`.
fn job() {}

fn main() {
    fanout::spawn_threads!(job; cathc);
}
