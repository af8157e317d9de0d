// Mistake: the mapped closure adds to a variable of the caller. The pool calls
// it from several threads at once.
// Python: `executor.map(lambda x: totals.append(x), items)` races; with
// `nonlocal total; total += x` updates are lost.
// Fix: return the value and sum the outputs:
// `let total: i32 = pool_map!(|x: i32| x, 0..10).iter().sum();`
fn main() {
    let mut total = 0;
    fanout::pool_map!(|x: i32| total += x, 0..10);
    println!("{total}");
}
