//! Tutorial 20.4, `asyncio`, basic use: a coroutine that waits without
//! blocking.
//!
//! ```python
//! import asyncio
//!
//! async def say_hello():
//!     print("Hello")
//!     await asyncio.sleep(1)
//!     print("World")
//!
//! async def main():
//!     await say_hello()
//!
//! asyncio.run(main())
//! ```
//!
//! (The tutorial has a stray `print` between the sleep and
//! `print("World")`, which only evaluates the function and prints nothing;
//! it is left out here, as the author meant.)
//!
//! `fanout::run(say_hello())` is `asyncio.run`: it starts a Tokio runtime,
//! runs the future to its end and returns its output, here the lines it
//! printed. The sleep is Tokio's, so the thread is free while it waits.
//!
//! `cargo run --example asyncio_basic`: "Hello", one second, "World".

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause_async, say};

/// The tutorial's program, without its stray `print`.
pub const PYTHON: &str = "\
import asyncio

async def say_hello():
    print(\"Hello\")
    await asyncio.sleep(1)
    print(\"World\")

async def main():
    await say_hello()

asyncio.run(main())
";

/// Its concurrency in fanout.
pub const RUST: &str = "fanout::run(say_hello())";

async fn say_hello() -> Vec<String> {
    let hello = say("Hello");
    pause_async(1.0).await;
    let world = say("World");
    vec![hello, world]
}

/// Runs the program; returns the lines it printed.
pub fn run() -> Vec<String> {
    fanout::run(say_hello())
}

pub fn main() {
    run();
}
