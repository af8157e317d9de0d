// Mistake: a value that is not a task (a number, not a function).
// Python: `Thread(target=42).start()` starts, then the thread dies with
// "TypeError: 'int' object is not callable" while the caller carries on.
// Fix: pass a function or a closure with no arguments, or call the function
// in the task: `spawn_threads!(|| answer * 2)`.
fn main() {
    let answer = 42;
    let doubled = fanout::spawn_threads!(answer);
    println!("{doubled:?}");
}
