// Mistake: the loop form's task assigns to a variable of the caller. Each
// task runs in a child process, on a copy of the caller's memory: the
// assignment would change the copy and be lost.
// Python: `total += i` in a `multiprocessing.Process` target changes the
// child's copy; the parent's `total` stays 0, and nothing says so.
// Fix: return the value; outputs come back to the caller:
// `let total: u64 = spawn_processes!(for i in 0..5 => i).iter().sum();`
fn main() {
    let mut total = 0;
    fanout::spawn_processes!(for i in 0..5 => total += i);
    println!("{total}");
}
