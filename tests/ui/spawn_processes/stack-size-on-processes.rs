// Mistake: `stack_size` on spawn_processes!. A forked child keeps the stack
// of the thread that forked it; only threads get a stack of their own.
// Python: `Process(target=job, stack_size=...)` raises TypeError when it runs.
// Fix: leave it out, or run the task on a thread: `spawn_threads!(job; stack_size = ...)`.
fn job() {}

fn main() {
    fanout::spawn_processes!(job; stack_size = 1 << 20);
}
