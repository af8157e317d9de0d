// Mistake: an `async fn` called in a task of spawn_threads!, without
// `.await`: the thread would return the future it makes, unpolled, and the
// future would never run.
// Python: `Thread(target=fetch)` with `async def fetch`: the thread calls the
// coroutine function, gets a coroutine object, and never runs it
// ("RuntimeWarning: coroutine 'fetch' was never awaited").
// Fix: await futures together with `gather!` in async code, or run each to
// its end inside its task with `fanout::run(fetch(url))`.

async fn fetch(url: &str) -> usize {
    url.len()
}

fn main() {
    let _ = fanout::spawn_threads!(fetch("a"), fetch("bb"));
    let _ = fanout::spawn_threads!(for url in ["a", "bb"] => fetch(url));
}
