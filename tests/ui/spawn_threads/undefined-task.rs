// Mistake: a task that does not resolve (a misspelled name). rustc's error is
// the only one: the macro's own checks of a task's output (such as the one
// for an unpolled future) add nothing to it.
// Python: a NameError, when the thread runs.
// Fix: name a function or value that exists.

fn main() {
    let _ = fanout::spawn_threads!(undefined_fn(), undefined_value);
    let _ = fanout::spawn_threads!(for i in 0..2 => undefined_fn(i));
}
