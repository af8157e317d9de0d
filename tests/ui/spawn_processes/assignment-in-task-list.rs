// Mistake: a task of the comma list adds to a variable of the caller. The
// task runs in a child process, on a copy of the caller's memory: the child
// adds to its own copy, which is lost when it exits.
// Python: `counter += 1` in a `multiprocessing.Process` target changes the
// child's copy; the parent's `counter` stays 0, and nothing says so.
// Fix: return the value and let the caller write it:
// `let value = spawn_processes!(work()); counter += value;`
fn main() {
    let mut counter = 0;
    fanout::spawn_processes!(counter += 1);
    println!("{counter}");
}
