// Mistake: a `Cell` used by two threads. `get` then `set` is a
// read-modify-write that another thread can interleave with.
// Python: `hits += 1` on a global from two threads loses updates under load,
// and nothing reports it.
// Fix: an atomic: `let hits = AtomicUsize::new(0); ... hits.fetch_add(1, Ordering::Relaxed)`.
use std::cell::Cell;

fn main() {
    let hits = Cell::new(0);
    fanout::spawn_threads!(hits.set(hits.get() + 1), hits.set(hits.get() + 1));
    println!("{}", hits.get());
}
