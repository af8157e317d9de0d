// Mistake: a stream over borrowed items.
// Python: `executor.map(f, items)` keeps `items` alive.
// Fix: give the stream owned items (`words.clone()`, or the `Vec` itself), or
// drop `stream` and collect (the collecting form may borrow).
fn main() {
    let words = vec!["a".to_owned(), "bb".to_owned()];
    let lengths = fanout::pool_map!(|w: &String| w.len(), &words; stream);
    for n in lengths {
        println!("{n}");
    }
}
