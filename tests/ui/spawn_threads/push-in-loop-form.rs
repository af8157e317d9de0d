// Mistake: the loop form's tasks push into the caller's `Vec`. All of them run
// at the same time, and a `Vec` cannot be grown by two threads at once.
// Python: `results.append(x)` from several threads happens to work under the
// GIL, in an order that changes from run to run.
// Fix: the loop form already collects the outputs, in order:
// `let results = spawn_threads!(for i in 0..5 => i * i);`
fn main() {
    let mut results = Vec::new();
    fanout::spawn_threads!(for i in 0..5 => results.push(i * i));
    println!("{results:?}");
}
