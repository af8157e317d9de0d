//! Tutorial 20.1, `threading`, the `Thread` subclass: the work lives in a
//! class's `run()` method.
//!
//! ```python
//! import threading
//! import time
//!
//! class PrintNumbers(threading.Thread):
//!     def run(self):
//!         for i in range(10):
//!             print(i)
//!             time.sleep(0.5)
//!
//! class PrintLetters(threading.Thread):
//!     def run(self):
//!         for letter in "abcdefghij":
//!             print(letter)
//!             time.sleep(0.5)
//!
//! t1 = PrintNumbers()
//! t2 = PrintLetters()
//!
//! t1.start()
//! t2.start()
//!
//! t1.join()
//! t2.join()
//! ```
//!
//! In Rust the class is a type that implements [`fanout::Task`], whose `run`
//! plays the part of the overridden `Thread.run()`; `spawn_threads!` takes
//! the values and runs each on its own thread:
//! `spawn_threads!(PrintNumbers, PrintLetters)`.
//!
//! `cargo run --example thread_subclass`: 5 s, numbers and letters interleaved.

use fanout::spawn_threads;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::pause;

/// The tutorial's program.
pub const PYTHON: &str = "\
import threading
import time

class PrintNumbers(threading.Thread):
    def run(self):
        for i in range(10):
            print(i)
            time.sleep(0.5)

class PrintLetters(threading.Thread):
    def run(self):
        for letter in \"abcdefghij\":
            print(letter)
            time.sleep(0.5)

t1 = PrintNumbers()
t2 = PrintLetters()

t1.start()
t2.start()

t1.join()
t2.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_threads!(PrintNumbers, PrintLetters)";

struct PrintNumbers;

impl fanout::Task for PrintNumbers {
    type Output = ();

    fn run(self) {
        for i in 0..10 {
            println!("{i}");
            pause(0.5);
        }
    }
}

struct PrintLetters;

impl fanout::Task for PrintLetters {
    type Output = ();

    fn run(self) {
        for letter in "abcdefghij".chars() {
            println!("{letter}");
            pause(0.5);
        }
    }
}

/// Runs the program.
pub fn run() {
    spawn_threads!(PrintNumbers, PrintLetters);
}

pub fn main() {
    run();
}
