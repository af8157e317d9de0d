// Mistake: the loop form's task, a block, adds to a variable of the caller
// after computing into a local of its own. The local is the task's; the
// caller's `total` only has a copy in each child, and the copies are lost.
// Python: `nonlocal total; total += x` in a `multiprocessing.Pool` worker
// changes the worker's copy, and the parent's `total` stays 0.
// Fix: return the value and add in the caller:
// `let total: u64 = spawn_processes!(for i in 0..5 => i * i).iter().sum();`
fn main() {
    let mut total = 0;
    fanout::spawn_processes!(for i in 0..5_u64 => {
        let square = i * i;
        total += square;
    });
    println!("{total}");
}
