// Mistake: a function that does not resolve (a misspelled name). rustc's
// error is the only one: the macro's own checks of the outputs (such as the
// one for an unpolled future) add nothing to it.
// Python: a NameError, when the line runs.
// Fix: name a function that exists.

fn main() {
    let _ = fanout::pool_map!(undefined_fn, 0..4);
}
