// Mistake: each child of the loop form returns an `Rc`, which lives in the
// child's memory and cannot be sent back to the caller.
// Python: the result is pickled in the child; an object that cannot be
// pickled raises there, at run time.
// Fix: return the value itself (`usize`), not a pointer to it; only owned,
// serializable data crosses from a child process to the caller.
use std::rc::Rc;

fn shared(i: usize) -> Rc<usize> {
    Rc::new(i)
}

fn main() {
    let outputs = fanout::spawn_processes!(for i in 0..3 => shared(i));
    println!("{}", outputs.len());
}
