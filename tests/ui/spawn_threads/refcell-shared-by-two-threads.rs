// Mistake: a `RefCell` borrowed by two threads. Its borrow flag is not
// atomic, so two threads could both get a mutable borrow.
// Python: `counter[0] += 1` from two threads is a read-modify-write race: run
// it often enough and some increments are lost, silently.
// Fix: `std::sync::Mutex` (or `RwLock`) instead of `RefCell`:
// `let counter = Mutex::new(0); ... *counter.lock().unwrap() += 1`.
use std::cell::RefCell;

fn main() {
    let counter = RefCell::new(0);
    fanout::spawn_threads!(*counter.borrow_mut() += 1, *counter.borrow_mut() += 1);
    println!("{}", counter.borrow());
}
