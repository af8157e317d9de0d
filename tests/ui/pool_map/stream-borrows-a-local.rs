// Mistake: a stream's function borrows a local. (rustc alone says E0373
// "closure may outlive the current function"; the macro says what to do, on
// `offset`.)
// Python: a generator may close over anything; it keeps it alive.
// Fix: move an owned value or an `Arc` into the function (`move |x| ...`), or
// drop `stream` and collect (the collecting form may borrow).
fn main() {
    let offset = 10u64;
    let shifted = fanout::pool_map!(|x: u64| x + offset, 0..10u64; stream);
    for x in shifted {
        println!("{x}");
    }
}
