// Mistake: an `Rc` moved into a thread. `Rc` counts its owners without
// atomic operations, so two threads dropping clones at once corrupt the count.
// Python: every object is reference-counted and the GIL keeps the count
// right; without a GIL (free-threaded Python) that is exactly the bug.
// Fix: share it with `std::sync::Arc` (an atomic `Rc`): `let shared = Arc::new(...)`.
use std::rc::Rc;

fn main() {
    let shared = Rc::new(vec![1, 2, 3]);
    let (len, sum) = fanout::spawn_threads!(move || shared.len(), || 6);
    println!("{len} {sum}");
}
