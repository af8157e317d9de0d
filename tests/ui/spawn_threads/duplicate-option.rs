// Mistake: the same option twice.
// Python: a repeated keyword argument is a SyntaxError.
// Fix: give each option once.
fn job() {}

fn main() {
    fanout::spawn_threads!(job; name = "a", name = "b");
}
