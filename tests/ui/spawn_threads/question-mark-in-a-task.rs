// Mistake: `?` inside a task of a list.
// Python: `Thread(target=lambda: read("a"))`: an exception in the thread is
// printed and lost; the caller never sees it.
// Fix: the tasks return their `Result`s, `try` combines them, and `?` goes on
// what the macro returns: `spawn_threads!(read("a"), read("b"); try)?`.

fn read(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() -> std::io::Result<()> {
    let (a, b) = fanout::spawn_threads!(read("a")?, read("b")?);
    println!("{a}{b}");
    Ok(())
}
