// Mistake: a stream over borrowed items. (rustc alone says E0597 "`words` does
// not live long enough", with a note inside fanout's runtime; the macro says
// what to do, on `&words`.)
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
