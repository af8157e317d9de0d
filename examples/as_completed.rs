//! Beyond the tutorial: results as they complete, not in input order.
//!
//! ```python
//! import time
//! from concurrent.futures import ThreadPoolExecutor, as_completed
//!
//! def fetch(url):
//!     time.sleep(DELAYS[url])  # a slow or a fast server
//!     return f"page of {url}"
//!
//! with ThreadPoolExecutor(max_workers=8) as executor:
//!     futures = {executor.submit(fetch, url): i for i, url in enumerate(URLS)}
//!     for future in as_completed(futures):
//!         print(futures[future], future.result())
//! ```
//!
//! `pool_map!(fetch, urls; unordered, workers = 8)` returns an `Iterator` of
//! `(index, output)` pairs in completion order: the index says which item it
//! was, as the dictionary of futures does in Python. Eight stand-in pages
//! answer after staggered delays (0.1 s to 1.15 s, divided by
//! `FANOUT_TOUR_SPEED`), so they print fastest first, as each completes.
//! `multiprocessing.Pool.imap_unordered` is the same thing without the index.
//!
//! The async form is the same option on `gather!`: `gather!(for url in &urls
//! => fetch_async(url); unordered)` is a `futures::Stream` of `(index,
//! output)`, Python's `for next in asyncio.as_completed(tasks)`.
//!
//! `cargo run --example as_completed`.

use std::time::Instant;

use fanout::{gather, pool_map};
use futures::StreamExt;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause, pause_async, scaled, seconds};

/// The Python it replaces.
pub const PYTHON: &str = "\
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

def fetch(url):
    time.sleep(DELAYS[url])
    return f\"page of {url}\"

with ThreadPoolExecutor(max_workers=8) as executor:
    futures = {executor.submit(fetch, url): i for i, url in enumerate(URLS)}
    for future in as_completed(futures):
        print(futures[future], future.result())
";

/// Its concurrency in fanout.
pub const RUST: &str = "pool_map!(fetch, urls; unordered, workers = 8)";

/// The stand-in pages and how long each takes to answer, in the tutorial's
/// seconds: input order is not the order of completion.
pub const PAGES: [(&str, f64); 8] = [
    ("http://slow.example/a", 1.0),
    ("http://fast.example/b", 0.1),
    ("http://slow.example/c", 0.7),
    ("http://fast.example/d", 0.25),
    ("http://slow.example/e", 1.15),
    ("http://fast.example/f", 0.4),
    ("http://slow.example/g", 0.85),
    ("http://fast.example/h", 0.55),
];

/// How long `url` takes to answer, in the tutorial's seconds.
pub fn delay(url: &str) -> f64 {
    PAGES
        .iter()
        .find(|(page, _)| *page == url)
        .map_or(0.0, |(_, secs)| *secs)
}

/// The URLs, in input order.
pub fn urls() -> Vec<String> {
    PAGES.iter().map(|(url, _)| (*url).to_owned()).collect()
}

/// `fetch(url)`: the page at `url`, after its delay.
fn fetch(url: String) -> String {
    pause(delay(&url));
    format!("page of {url}")
}

/// The async `fetch`.
async fn fetch_async(url: &str) -> String {
    pause_async(delay(url)).await;
    format!("page of {url}")
}

/// What one run printed: the `(index, page)` pairs in completion order, from
/// the pool and from the gather.
pub struct Completed {
    pub pool: Vec<(usize, String)>,
    pub gather: Vec<(usize, String)>,
}

/// Runs the program: the pool's pairs as they complete, then the gather's.
pub fn run() -> Completed {
    let urls = urls();
    let start = Instant::now();
    let mut pool = Vec::new();
    println!("pool_map!(fetch, urls; unordered, workers = 8):");
    for (index, page) in pool_map!(fetch, urls; unordered, workers = 8) {
        println!("  {:>7}  {index} {page}", seconds(start.elapsed()));
        pool.push((index, page));
    }

    println!("gather!(for url in &urls => fetch_async(url); unordered):");
    let urls = self::urls();
    let gather = fanout::run(async {
        let start = Instant::now();
        let mut done = Vec::new();
        let mut pages = gather!(for url in &urls => fetch_async(url); unordered);
        while let Some((index, page)) = pages.next().await {
            println!("  {:>7}  {index} {page}", seconds(start.elapsed()));
            done.push((index, page));
        }
        done
    });
    Completed { pool, gather }
}

pub fn main() {
    let completed = run();
    let longest = PAGES.iter().map(|(_, secs)| *secs).fold(0.0, f64::max);
    println!(
        "{} pages from the pool, {} from the gather, fastest first; the slowest answers after {}",
        completed.pool.len(),
        completed.gather.len(),
        seconds(scaled(longest))
    );
}
