// Mistake: `.await` in a task of spawn_threads! (or spawn_processes!).
// Python: `Thread(target=fetch)` with `async def fetch`: the thread calls the
// coroutine function, gets a coroutine object, and never runs it.
// Fix: await futures together with `gather!` in async code, or run one to its
// end inside the task with `fanout::run(fetch(url))`.

async fn fetch(url: &str) -> usize {
    url.len()
}

fn main() {
    let (a, b) = fanout::spawn_threads!(fetch("a").await, fetch("bb").await);
    println!("{a} {b}");
}
