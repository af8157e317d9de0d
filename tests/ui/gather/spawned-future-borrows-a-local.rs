// Mistake: with `spawn`, a future borrows a local variable. A spawned Tokio
// task may outlive the function that spawned it, so it must own its data.
// Python: a task keeps its arguments alive by reference counting.
// Fix: move owned data into each future (`for url in urls.clone() => fetch(url)`
// with `async fn fetch(url: String)`), or leave out `spawn`.
async fn fetch(url: &str) -> usize {
    url.len()
}

fn main() {
    fanout::run(async {
        let urls = vec![String::from("a"), String::from("b")];
        let lengths = fanout::gather!(for url in &urls => fetch(url); spawn);
        println!("{lengths:?}");
    });
}
