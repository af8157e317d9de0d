//! `pool_map!` under the strict lints of `tests/expansion_lints.rs`, except
//! `forbid(unused_imports, unreachable_patterns)`: the pool's expansion (in
//! `macros/src/expand/pool.rs`) still emits `#[allow(unused_imports)]` on the
//! `use` of its `Select*` traits, which is E0453 under `forbid`. When it no
//! longer does, this test moves back into `tests/expansion_lints.rs`.
#![forbid(unsafe_code)]
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

fn worker(i: u32) -> u32 {
    i * 2
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn parse(text: &str) -> Result<u32, BoxError> {
    Ok(text.parse()?)
}

#[test]
fn pools() {
    let words = vec!["a", "bb", "ccc"];
    let lengths = fanout::pool_map!(|w: &&str| w.len(), &words; workers = 2, chunksize = 1);
    assert_eq!(lengths, [1, 2, 3]);
    let doubled = fanout::pool_map!(worker, 0..4; catch);
    assert_eq!(doubled.len(), 4);
    let parsed = fanout::pool_map!(parse, ["1", "2"]; try, name = "parse");
    assert_eq!(parsed.ok(), Some(vec![1, 2]));
    let in_processes =
        fanout::pool_map!(worker, 0..4; processes, timeout = Duration::from_secs(30));
    assert_eq!(in_processes, [0, 2, 4, 6]);
}
