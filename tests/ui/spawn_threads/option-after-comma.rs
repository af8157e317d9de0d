// Mistake: an option written after a comma, like a Python keyword argument.
// Python: `Thread(target=job, name="io")` separates keyword arguments with commas.
// Fix: options come after a `;`: `spawn_threads!(job, other; name = "io")`.
fn job() {}
fn other() {}

fn main() {
    fanout::spawn_threads!(job, other, name = "io");
}
