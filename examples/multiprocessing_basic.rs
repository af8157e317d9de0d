//! Tutorial 20.2, `multiprocessing`, basic use: two processes print their
//! process ids.
//!
//! ```python
//! from multiprocessing import Process
//! import os
//!
//! def print_process_info(name):
//!     print(f"Process {name}: {os.getpid()}")
//!
//! if __name__ == '__main__':
//!     p1 = Process(target=print_process_info, args=('p1',))
//!     p2 = Process(target=print_process_info, args=('p2',))
//!
//!     p1.start()
//!     p2.start()
//!
//!     p1.join()
//!     p2.join()
//! ```
//!
//! `spawn_processes!(print_process_info("p1"), print_process_info("p2"))` forks
//! one child per call; each child evaluates its call, sends the output back
//! and exits, and the macro reaps both before it returns their outputs as a
//! tuple. Here each child returns its process id, which differs from the
//! parent's and from the other child's.
//!
//! `cargo run --example multiprocessing_basic`.

use fanout::spawn_processes;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;

/// The tutorial's program.
pub const PYTHON: &str = "\
from multiprocessing import Process
import os

def print_process_info(name):
    print(f\"Process {name}: {os.getpid()}\")

if __name__ == '__main__':
    p1 = Process(target=print_process_info, args=('p1',))
    p2 = Process(target=print_process_info, args=('p2',))

    p1.start()
    p2.start()

    p1.join()
    p2.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_processes!(print_process_info(\"p1\"), print_process_info(\"p2\"))";

fn print_process_info(name: &str) -> u32 {
    let pid = std::process::id();
    println!("Process {name}: {pid}");
    pid
}

/// Runs the program; returns the process id of each child.
pub fn run() -> (u32, u32) {
    spawn_processes!(print_process_info("p1"), print_process_info("p2"))
}

pub fn main() {
    run();
    println!("(and the parent is process {})", std::process::id());
}
