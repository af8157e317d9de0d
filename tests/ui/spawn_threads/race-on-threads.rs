// Mistake: a race of threads.
// Python: `wait(futures, return_when=FIRST_COMPLETED)` returns the first, but
// the other threads go on running: nothing is cancelled.
// Fix: the losers of a race are cancelled, and a thread cannot be; race child
// processes (killed) or futures (dropped): `spawn_processes!(a(), b(); race)`.

fn solve_exact() -> u32 {
    1
}

fn solve_heuristic() -> u32 {
    2
}

fn main() {
    let fastest = fanout::spawn_threads!(solve_exact(), solve_heuristic(); race);
    let _ = fastest;
}
