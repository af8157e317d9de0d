// Mistake: an `async fn` mapped by pool_map! on threads: each thread would
// return the futures it makes, unpolled, and they would never run.
// Python: `ThreadPoolExecutor().map(fetch, urls)` with `async def fetch`:
// coroutine objects come back, and none ever runs.
// Fix: await the futures together with `gather!` in async code
// (`gather!(for url in urls => fetch(url))`), or run each to its end in the
// function with `fanout::run(fetch(url))`.

async fn fetch(url: &str) -> usize {
    url.len()
}

fn main() {
    let _ = fanout::pool_map!(fetch, ["a", "bb"]);
    let _ = fanout::pool_map!(|url| fetch(url), ["a", "bb"]; catch, workers = 2);
}
