// Mistake: no tasks at all.
// Python: `threading.Thread()` with no target runs nothing and says nothing.
// Fix: name the functions to run: `spawn_threads!(print_numbers, print_letters)`.
fn main() {
    let () = fanout::spawn_threads!();
}
