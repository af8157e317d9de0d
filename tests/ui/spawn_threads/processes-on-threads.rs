// Mistake: `processes`, an option of pool_map!, given to spawn_threads!.
// Python: `Thread(target=job, processes=True)` raises TypeError ("unexpected
// keyword argument") only when the line runs.
// Fix: run each task in its own process with `spawn_processes!(job)`.
fn job() {}

fn main() {
    fanout::spawn_threads!(job; processes);
}
