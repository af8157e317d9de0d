//! The code the macros generate is located on the user's tokens (so that
//! errors land there), so lints see it as the user's code. It must stay clean
//! under strict settings: this file uses every form of every macro under
//! `deny(warnings)`, a few allow-by-default lints, and, in `cargo clippy
//! --all-targets -- -D warnings`, clippy's pedantic group. It also *forbids*
//! the lints an expansion could be tempted to `allow`: under `forbid`, any
//! `#[allow]` of them in generated code is an error (E0453), so no expansion
//! may carry one.
#![forbid(unused_imports, unreachable_patterns, unsafe_code)]
#![deny(
    warnings,
    rust_2018_idioms,
    unused_qualifications,
    unused_results,
    trivial_casts,
    clippy::all,
    clippy::pedantic
)]

use std::time::Duration;

fn print_numbers() -> u32 {
    (0..10).sum()
}

fn worker(i: u32) -> u32 {
    i * 2
}

async fn fetch(i: u32) -> u32 {
    tokio::task::yield_now().await;
    i + 1
}

struct PrintLetters;

impl fanout::Task for PrintLetters {
    type Output = usize;
    fn run(self) -> usize {
        "abc".len()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn parse(text: &str) -> Result<u32, BoxError> {
    Ok(text.parse()?)
}

#[test]
fn threads_and_processes() {
    let data = [1_u32, 2, 3];
    let (sum, letters, doubled) = fanout::spawn_threads!(print_numbers, PrintLetters, worker(1));
    assert_eq!((sum, letters, doubled), (45, 3, 2));
    let (sum, len) = fanout::spawn_threads!(print_numbers(), || data.len(); name = "io");
    assert_eq!((sum, len), (45, 3));
    // Names computed at run time: a `String`, a `&str`, a `String` variable.
    let who = format!("req-{}", data.len());
    let (sum, len) =
        fanout::spawn_threads!(print_numbers(), || data.len(); name = format!("io-{}", 1));
    assert_eq!((sum, len), (45, 3));
    let each = fanout::spawn_threads!(for i in 0..2 => worker(i); name = who.as_str());
    assert_eq!(each, [0, 2]);
    let each = fanout::spawn_processes!(for i in 0..2 => worker(i); name = who);
    assert_eq!(each, [0, 2]);
    let (sum, len) = fanout::spawn_processes!(print_numbers(), || data.len(); name = &who);
    assert_eq!((sum, len), (45, 3));
    let each = fanout::spawn_threads!(for i in 0..3 => worker(i) + data[i as usize]);
    assert_eq!(each, [1, 4, 7]);
    let block = fanout::spawn_threads!(for i in 0..2 => { i });
    assert_eq!(block, [0, 1]);
    let caught = fanout::spawn_threads!(for i in 0..2 => worker(i); catch, stack_size = 1 << 20);
    assert!(caught.iter().all(Result::is_ok));
    let tried = fanout::spawn_threads!(parse("1"), parse("2"); try);
    assert_eq!(tried.ok(), Some((1, 2)));
    let in_children =
        fanout::spawn_processes!(for i in 0..2 => worker(i); timeout = Duration::from_secs(30));
    assert_eq!(in_children, [0, 2]);
    let (sum, doubled) = fanout::spawn_processes!(print_numbers, worker(3); catch);
    assert_eq!((sum.ok(), doubled.ok()), (Some(45), Some(6)));
}

/// Calls as tasks: the closures the macros wrap around them are spanned as
/// the user's code, and must not read to clippy as redundant closures
/// (`|i| worker(i)` for `worker`, `|s| s.len()` for `str::len`).
#[test]
fn calls_as_tasks() {
    let (sum, doubled) = fanout::spawn_threads!(print_numbers(), worker(2));
    assert_eq!((sum, doubled), (45, 4));
    let lengths = fanout::spawn_threads!(for s in ["a", "bb"] => s.len(); timeline);
    assert_eq!(lengths, [1, 2]);
    let parsed = fanout::spawn_threads!(for s in ["1", "2"] => parse(s); try, catch);
    assert_eq!(parsed.ok(), Some(vec![1, 2]));
    let both = fanout::spawn_threads!(parse("1"), parse("2"); try, catch);
    assert_eq!(both.ok(), Some((1, 2)));
    let in_children = fanout::spawn_processes!(print_numbers(), worker(2));
    assert_eq!(in_children, (45, 4));
    let each = fanout::spawn_processes!(for i in 0..2 => worker(i); catch);
    assert!(each.iter().all(Result::is_ok));
}

#[test]
fn gathers() {
    fanout::run(async {
        let (fetched, five) = fanout::gather!(fetch(1), async { 5 });
        assert_eq!((fetched, five), (2, 5));
        let each = fanout::gather!(for i in 0..3 => fetch(i); limit = 2);
        assert_eq!(each, [1, 2, 3]);
        let spawned = fanout::gather!(for i in 0..3 => fetch(i); spawn, catch);
        assert!(spawned.iter().all(Result::is_ok));
        let (one, two) =
            fanout::gather!(fetch(1), fetch(2); spawn, timeout = Duration::from_secs(30));
        assert_eq!((one, two), (2, 3));
        let tried = fanout::gather!(async { parse("7") }, async { parse("8") }; try);
        assert_eq!(tried.ok(), Some((7, 8)));
        let caught =
            fanout::gather!(for text in ["1", "x"] => async move { parse(text) }; try, catch);
        assert!(caught.is_err());
        let who = String::from("get");
        let (one, two) = fanout::gather!(fetch(1), fetch(2); name = who.as_str());
        assert_eq!((one, two), (2, 3));
        let spawned = fanout::gather!(for i in 0..3 => fetch(i); spawn, name = who.clone());
        assert_eq!(spawned, [1, 2, 3]);
    });
}

#[test]
fn pools_on_every_backend() {
    let words = vec!["a", "bb", "ccc"];
    let lengths = fanout::pool_map!(|w: &&str| w.len(), &words; workers = 2, chunksize = 1);
    assert_eq!(lengths, [1, 2, 3]);
    let doubled = fanout::pool_map!(worker, 0..4; catch);
    assert_eq!(doubled.len(), 4);
    let parsed = fanout::pool_map!(parse, ["1", "2"]; try, name = "parse");
    assert_eq!(parsed.ok(), Some(vec![1, 2]));
    let who = format!("parse-{}", words.len());
    let parsed = fanout::pool_map!(parse, ["1", "2"]; try, name = who.as_str());
    assert_eq!(parsed.ok(), Some(vec![1, 2]));
    let doubled = fanout::pool_map!(worker, 0..2; processes, name = &who);
    assert_eq!(doubled, [0, 2]);
    let in_processes =
        fanout::pool_map!(worker, 0..4; processes, timeout = Duration::from_secs(30));
    assert_eq!(in_processes, [0, 2, 4, 6]);
    let on_threads = fanout::pool_map!(worker, 0..4; timeout = Duration::from_secs(30), catch);
    assert_eq!(on_threads.len(), 4);
}
