// Mistake: a stream over an iterator that borrows a local (`text.chars()`).
// Python: `imap_unordered(f, text)` keeps `text` alive.
// Fix: give the stream owned items (`text.chars().collect::<Vec<_>>()`, or
// `text.clone().into_bytes()`), or drop `unordered` and collect.
fn main() {
    let text = String::from("Hello World");
    let upper = fanout::pool_map!(|c: char| c.is_uppercase(), text.chars(); unordered);
    for (index, is_upper) in upper {
        println!("{index}: {is_upper}");
    }
}
