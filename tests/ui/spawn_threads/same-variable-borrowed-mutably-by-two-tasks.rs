// Mistake: two tasks that both change the same local variable.
// Python: two threads doing `total += 1` on a shared variable race; the
// result is sometimes 1 instead of 2, and nothing says so.
// Fix: let each task return its value and combine the outputs
// (`let (a, b) = spawn_threads!(one(), two()); total = a + b;`), or share an
// `AtomicUsize` or a `Mutex`.
fn main() {
    let mut total = 0;
    fanout::spawn_threads!(total += 1, total += 1);
    println!("{total}");
}
