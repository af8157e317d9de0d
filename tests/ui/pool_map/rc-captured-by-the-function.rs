// Mistake: the mapped closure captures an `Rc`; the pool's threads would all
// update its count at once.
// Python: a lambda may close over anything; the GIL hides the race.
// Fix: `std::sync::Arc` instead of `Rc`, or capture a plain reference to the
// data (`let offset = *offset;` before the macro).
use std::rc::Rc;

fn main() {
    let offset = Rc::new(10);
    let shifted = fanout::pool_map!(|x: i32| x + *offset, 0..10);
    println!("{shifted:?}");
}
