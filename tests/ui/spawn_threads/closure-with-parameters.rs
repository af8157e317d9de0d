// Mistake: a task closure that takes a parameter; nobody would pass it.
// Python: `Thread(target=lambda x: x * 2).start()` fails in the new thread
// with "TypeError: <lambda>() missing 1 required positional argument".
// Fix: one task per item with the loop form, `spawn_threads!(for x in 0..4 => x * 2)`,
// or map a function: `pool_map!(|x| x * 2, 0..4)`.
fn main() {
    let doubled = fanout::spawn_threads!(|x: u32| x * 2);
    println!("{doubled:?}");
}
