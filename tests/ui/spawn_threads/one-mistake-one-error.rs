// Mistake: a misspelled option, in code that uses the outputs afterwards.
// The macro reports the one mistake and still expands as if it were not
// there, so the code around it type-checks: one mistake, one error (and
// rust-analyzer keeps completing `count` and `text`).
// Python: the TypeError only comes when the line runs.
// Fix: `catch`, and then each output is a `Result`.
fn count() -> u32 {
    3
}

fn text() -> String {
    "abc".to_owned()
}

fn main() {
    let (count, text): (u32, String) = fanout::spawn_threads!(count, text; cathc);
    println!("{}", count as usize + text.len());
}
