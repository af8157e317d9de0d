// Mistake: a worker name that is a variable, not a string literal.
// Python: `Thread(name=prefix)` accepts anything and calls `str()` on it.
// Fix: a string literal, `name = "io"`; worker names are fixed at compile time
// (the loop form numbers them: `io-0`, `io-1`, ...).
fn job() {}

fn main() {
    let prefix = "io";
    fanout::spawn_threads!(job; name = prefix);
}
