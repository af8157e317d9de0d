// Mistake: the function of a process pool adds to a variable of the caller.
// Each worker process adds to its own copy of `total`, which is lost when it
// exits: the caller's `total` stays 0.
// Python: `nonlocal total; total += x` (or a global) in a function given to
// `ProcessPoolExecutor().map` changes the worker's copy only.
// Fix: return the value and add in the caller:
// `let total: u64 = pool_map!(|x: u64| x, 0..10; processes).iter().sum();`
fn main() {
    let mut total = 0;
    fanout::pool_map!(|x: u64| total += x, 0..10; processes);
    println!("{total}");
}
