// Mistake: a stream over items that borrow a local through a function the
// macro cannot see into (`words_of(&text)` returns an iterator over `text`).
// Python: the generator keeps `text` alive.
// Fix: collect owned items first (`words_of(&text).map(str::to_owned).collect::<Vec<_>>()`),
// or drop `stream` and collect. rustc reports it; its note points at the
// stream's bound, whose line says what to do.
fn words_of(text: &str) -> std::str::SplitWhitespace<'_> {
    text.split_whitespace()
}

fn main() {
    let text = String::from("a bb ccc");
    let lengths = fanout::pool_map!(|w: &str| w.len(), words_of(&text); stream);
    for n in lengths {
        println!("{n}");
    }
}
