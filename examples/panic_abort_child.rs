//! Not a tutorial program: the check that a child's panic message reaches the
//! parent when the program is built with `panic = "abort"` (the child's panic
//! hook sends it before the child aborts), in `spawn_processes!` and in a
//! process pool, whose other items still run. Run by the test
//! `under_panic_abort_the_childs_panic_message_still_arrives` in
//! tests/process_boundary.rs, or by hand:
//!
//! ```text
//! cargo run --example panic_abort_child --target-dir target/panic-abort \
//!     --config 'profile.dev.panic="abort"'
//! ```
//!
//! It works with unwinding too (the message then comes the usual way).

fn main() {
    let outcome = fanout::spawn_processes!(|| -> u32 { panic!("lost under {}", "abort") }; catch);
    let error = outcome.expect_err("the task panics");
    assert_eq!(error.panic_message(), Some("lost under abort"), "{error}");
    let strategy = if cfg!(panic = "abort") {
        "abort"
    } else {
        "unwind"
    };
    println!("panic = {strategy}: {error}");
    let pool = fanout::pool_map!(|x: u32| {
        assert!(x != 1, "pool lost under abort");
        x
    }, 0..3; processes, catch, workers = 1, chunksize = 3);
    let pool: Vec<Result<u32, String>> = pool
        .into_iter()
        .map(|outcome| outcome.map_err(|e| e.panic_message().unwrap_or_default().to_owned()))
        .collect();
    println!("pool: {pool:?}");
    // A grandchild inherits its parent's panic hook: its panic is its own,
    // and must not be sent as the panic of the child or of the pool's item.
    let nested = fanout::spawn_processes!(|| {
        let inner = fanout::spawn_processes!(|| -> u32 { panic!("grandchild") }; catch);
        inner.map_err(|e| e.panic_message().unwrap_or_default().to_owned())
    }; catch);
    println!("nested: {:?}", nested.map_err(|e| e.to_string()));
    let in_pool = fanout::pool_map!(|x: u32| {
        let inner = fanout::spawn_processes!(|| -> u32 { panic!("grandchild of a worker") }; catch);
        (x, inner.is_err())
    }, 0..3; processes, catch, workers = 1, chunksize = 3);
    let in_pool: Vec<Result<(u32, bool), String>> = in_pool
        .into_iter()
        .map(|outcome| outcome.map_err(|e| e.to_string()))
        .collect();
    println!("nested in pool: {in_pool:?}");
}
