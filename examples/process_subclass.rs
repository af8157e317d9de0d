//! Tutorial 20.2, `multiprocessing`, the `Process` subclass: a class with a
//! name and a `run()` method.
//!
//! ```python
//! from multiprocessing import Process
//! import os
//!
//! class PrintProcessInfo(Process):
//!     def __init__(self, name):
//!         super().__init__()
//!         self.name = name
//!
//!     def run(self):
//!         print(f"Process {self.name}: {os.getpid()}")
//!
//! if __name__ == '__main__':
//!     p1 = PrintProcessInfo('p1')
//!     p2 = PrintProcessInfo('p2')
//!
//!     p1.start()
//!     p2.start()
//!
//!     p1.join()
//!     p2.join()
//! ```
//!
//! (The tutorial forgets `import os`; it is added here.)
//!
//! The class is a type with a `name` field that implements [`fanout::Task`];
//! `spawn_processes!(p1, p2)` forks a child for each value and runs its `run`
//! there. The value need not be sent anywhere: the child is a copy of the
//! parent and already has it. Only the output, here the child's process id,
//! comes back.
//!
//! `cargo run --example process_subclass`.

use fanout::spawn_processes;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;

/// The tutorial's program, with its missing `import os`.
pub const PYTHON: &str = "\
from multiprocessing import Process
import os

class PrintProcessInfo(Process):
    def __init__(self, name):
        super().__init__()
        self.name = name

    def run(self):
        print(f\"Process {self.name}: {os.getpid()}\")

if __name__ == '__main__':
    p1 = PrintProcessInfo('p1')
    p2 = PrintProcessInfo('p2')

    p1.start()
    p2.start()

    p1.join()
    p2.join()
";

/// Its concurrency in fanout.
pub const RUST: &str = "spawn_processes!(p1, p2)";

struct PrintProcessInfo {
    name: String,
}

impl PrintProcessInfo {
    fn new(name: &str) -> Self {
        PrintProcessInfo {
            name: name.to_owned(),
        }
    }
}

impl fanout::Task for PrintProcessInfo {
    type Output = u32;

    fn run(self) -> u32 {
        let pid = std::process::id();
        println!("Process {}: {pid}", self.name);
        pid
    }
}

/// Runs the program; returns the process id of each child.
pub fn run() -> (u32, u32) {
    let p1 = PrintProcessInfo::new("p1");
    let p2 = PrintProcessInfo::new("p2");
    spawn_processes!(p1, p2)
}

pub fn main() {
    run();
    println!("(and the parent is process {})", std::process::id());
}
