// Mistake: no tasks at all.
// Python: `multiprocessing.Process()` with no target starts a process that
// does nothing.
// Fix: name what to run: `spawn_processes!(print_process_info("p1"), print_process_info("p2"))`.
fn main() {
    fanout::spawn_processes!();
}
