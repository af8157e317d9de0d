//! Tutorial 20.1, `threading`, basic use: two threads print side by side.
//!
//! ```python
//! import threading
//! import time
//!
//! def print_numbers():
//!     for i in range(10):
//!         print(i)
//!         time.sleep(0.5)
//!
//! def print_letters():
//!     for letter in "abcdefghij":
//!         print(letter)
//!         time.sleep(0.5)
//!
//! t1 = threading.Thread(target=print_numbers)
//! t2 = threading.Thread(target=print_letters)
//!
//! t1.start()
//! t2.start()
//!
//! t1.join()
//! t2.join()
//! ```
//!
//! The six lines that create, start and join the two threads are one in
//! fanout: `spawn_threads!(print_numbers, print_letters)` runs each function on
//! its own OS thread (named `print_numbers` and `print_letters`) and returns
//! once both ended, with their outputs as a tuple. Here each function returns
//! the lines it printed.
//!
//! `cargo run --example threading_basic`: 5 s, numbers and letters interleaved.

use fanout::spawn_threads;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::{pause, say};

/// The tutorial's program.
pub const PYTHON: &str = "\
import threading
import time

def print_numbers():
    for i in range(10):
        print(i)
        time.sleep(0.5)

def print_letters():
    for letter in \"abcdefghij\":
        print(letter)
        time.sleep(0.5)

t1 = threading.Thread(target=print_numbers)
t2 = threading.Thread(target=print_letters)

t1.start()
t2.start()

t1.join()
t2.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_threads!(print_numbers, print_letters)";

fn print_numbers() -> Vec<String> {
    let mut printed = Vec::new();
    for i in 0..10 {
        printed.push(say(i));
        pause(0.5);
    }
    printed
}

fn print_letters() -> Vec<String> {
    let mut printed = Vec::new();
    for letter in "abcdefghij".chars() {
        printed.push(say(letter));
        pause(0.5);
    }
    printed
}

/// Runs the program; returns the lines each thread printed.
pub fn run() -> (Vec<String>, Vec<String>) {
    spawn_threads!(print_numbers, print_letters)
}

pub fn main() {
    run();
}
