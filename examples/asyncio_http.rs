//! Tutorial 20.4, asynchronous HTTP requests with `aiohttp`: fetch several
//! pages at the same time and print the first 100 characters of each.
//!
//! ```python
//! import aiohttp
//! import asyncio
//!
//! async def fetch(session, url):
//!     async with session.get(url) as response:
//!         return await response.text()
//!
//! async def main():
//!     async with aiohttp.ClientSession() as session:
//!         urls = [
//!             "http://example.com",
//!             "http://example.org",
//!             "http://example.net"
//!         ]
//!         tasks = [fetch(session, url) for url in urls]
//!         results = await asyncio.gather(*tasks)
//!         for result in results:
//!             print(result[:100])  # 첫 100글자만 출력
//!
//! asyncio.run(main())
//! ```
//!
//! These machines have no internet, so the example starts a small HTTP server
//! on 127.0.0.1 whose pages stand in for example.com, .org and .net; each page
//! takes 0.5 s to answer (divided by `FANOUT_TOUR_SPEED`), so fetching the
//! three one after the other would take 1.5 s and `gather!` takes 0.5 s. The
//! client is reqwest, a real HTTP client. `limit = 2` then shows the
//! `asyncio.Semaphore(2)` pattern as one word: two requests in flight at most.
//!
//! `cargo run --example asyncio_http`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use fanout::gather;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use tokio::net::TcpListener;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause_async, scaled, seconds};

/// The tutorial's program.
pub const PYTHON: &str = "\
import aiohttp
import asyncio

async def fetch(session, url):
    async with session.get(url) as response:
        return await response.text()

async def main():
    async with aiohttp.ClientSession() as session:
        urls = [
            \"http://example.com\",
            \"http://example.org\",
            \"http://example.net\"
        ]
        tasks = [fetch(session, url) for url in urls]
        results = await asyncio.gather(*tasks)
        for result in results:
            print(result[:100])

asyncio.run(main())
";

/// Its concurrency in fanout.
pub const RUST: &str = "gather!(for url in &urls => fetch(&client, url))";

/// The domains the local server stands in for.
pub const DOMAINS: [&str; 3] = ["example.com", "example.org", "example.net"];

/// How long the server takes to answer, in the tutorial's seconds.
const ANSWER_SECS: f64 = 0.5;

/// The page served for `domain`: like the real example.com, a short HTML page.
pub fn page(domain: &str) -> String {
    format!(
        "<!doctype html>\n<html>\n<head>\n    <title>Example Domain ({domain})</title>\n    <meta charset=\"utf-8\" />\n</head>\n<body>\n<div>\n    <h1>Example Domain</h1>\n    <p>This domain, {domain}, is for use in illustrative examples in documents.</p>\n</div>\n</body>\n</html>\n"
    )
}

/// Starts the stand-in server on 127.0.0.1 (a free port) and returns its
/// address; it serves until the runtime shuts down.
///
/// `/example.com` answers the page of example.com, and so on; other paths get a 404.
pub async fn serve() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let io = hyper_util::rt::TokioIo::new(stream);
                // A client that hangs up early is not the server's problem.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(address)
}

async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    pause_async(ANSWER_SECS).await;
    let domain = request.uri().path().trim_start_matches('/');
    let response = if DOMAINS.contains(&domain) {
        Response::new(Full::new(Bytes::from(page(domain))))
    } else {
        let mut not_found = Response::new(Full::new(Bytes::from_static(b"not found\n")));
        *not_found.status_mut() = hyper::StatusCode::NOT_FOUND;
        not_found
    };
    Ok(response)
}

/// `fetch(session, url)`: the text of the page at `url`.
pub async fn fetch(client: &reqwest::Client, url: &str) -> reqwest::Result<String> {
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

/// What one run shows: the pages, and how long each gather took.
pub struct Fetched {
    /// The text of each page, in the order of the URLs.
    pub pages: Vec<String>,
    /// The wall time of the plain gather.
    pub together: Duration,
    /// The wall time of the gather with `limit = 2`.
    pub limited: Duration,
}

/// Runs the program against a fresh local server.
///
/// # Panics
/// If the server cannot start or a request fails.
pub fn run() -> Fetched {
    fanout::run(async {
        let address = serve().await.expect("start the local HTTP server");
        let urls: Vec<String> = DOMAINS
            .iter()
            .map(|d| format!("http://{address}/{d}"))
            .collect();
        let client = reqwest::Client::new();

        let start = std::time::Instant::now();
        let results = gather!(for url in &urls => fetch(&client, url));
        let together = start.elapsed();
        let mut pages = Vec::new();
        for result in results {
            let text = result.expect("fetch a page");
            println!("{}", text.chars().take(100).collect::<String>());
            pages.push(text);
        }

        let start = std::time::Instant::now();
        let again = gather!(for url in &urls => fetch(&client, url); limit = 2);
        let limited = start.elapsed();
        assert!(again.iter().all(Result::is_ok));
        Fetched {
            pages,
            together,
            limited,
        }
    })
}

pub fn main() {
    let fetched = run();
    println!(
        "{} pages that each take {} to answer: {} together; {} with `limit = 2`",
        fetched.pages.len(),
        seconds(scaled(ANSWER_SECS)),
        seconds(fetched.together),
        seconds(fetched.limited),
    );
}
