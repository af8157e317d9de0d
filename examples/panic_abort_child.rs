//! Not a tutorial program: the check that a child's panic message reaches the
//! parent when the program is built with `panic = "abort"` (the child's panic
//! hook sends it before the child aborts). Run by the ignored test
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
}
