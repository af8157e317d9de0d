//! The tour: every program of the tutorial, in its order, each as its Python
//! original, its one line of fanout, and the Rust program running live.
//!
//! ```text
//! cargo run --example tour              # every program, at the tutorial's speed
//! cargo run --example tour -- 10 13     # programs 10 and 13 only
//! cargo run --example tour -- asyncio_gather
//! FANOUT_TOUR_SPEED=10 cargo run --example tour   # every sleep ten times shorter
//! ```
//!
//! The tutorial is chapter 20, "Concurrency and parallelism" (병행성 및 병렬성),
//! of a Korean Python tutorial; the programs are numbered as in fanout's
//! design notes. Each one is also an example of its own
//! (`cargo run --example threading_basic`), included here as a module.
//! From program 15 on, the tour goes beyond the tutorial: what its readers
//! reach for next, each program with the Python it replaces.
//!
//! The output has no colours and no cursor tricks, so it reads the same in a
//! terminal, piped into `less`, or saved to a file.

use std::io::Write as _;
use std::time::Duration;

#[allow(dead_code)] // each program uses part of it
pub(crate) mod common;
use crate::common::{SPEED_VAR, seconds, speed, timed};

#[path = "threading_basic.rs"]
pub(crate) mod threading_basic;

#[path = "thread_subclass.rs"]
pub(crate) mod thread_subclass;

#[path = "multiprocessing_basic.rs"]
pub(crate) mod multiprocessing_basic;

#[path = "process_subclass.rs"]
pub(crate) mod process_subclass;

#[path = "thread_pool.rs"]
pub(crate) mod thread_pool;

#[path = "process_pool.rs"]
pub(crate) mod process_pool;

#[path = "asyncio_basic.rs"]
pub(crate) mod asyncio_basic;

#[path = "asyncio_gather.rs"]
pub(crate) mod asyncio_gather;

#[path = "asyncio_http.rs"]
pub(crate) mod asyncio_http;

#[path = "threading_workers.rs"]
pub(crate) mod threading_workers;

#[path = "multiprocessing_workers.rs"]
pub(crate) mod multiprocessing_workers;

#[path = "futures_workers.rs"]
pub(crate) mod futures_workers;

#[path = "asyncio_workers.rs"]
pub(crate) mod asyncio_workers;

#[path = "concurrency_vs_parallelism.rs"]
pub(crate) mod concurrency_vs_parallelism;

#[path = "stream_endless.rs"]
pub(crate) mod stream_endless;

#[path = "as_completed.rs"]
pub(crate) mod as_completed;

#[path = "init_connection.rs"]
pub(crate) mod init_connection;

#[path = "race_solvers.rs"]
pub(crate) mod race_solvers;

/// One program of the tutorial, as the tour shows it.
pub(crate) struct Program {
    /// Its row in the design notes' table (1 to 13), 14 for the closing
    /// section, and from [`BEYOND`] on, the programs beyond the tutorial.
    pub number: u32,
    /// Where the tutorial shows it.
    pub section: &'static str,
    /// The example file's stem: `examples/{example}.rs`.
    pub example: &'static str,
    /// The tutorial's Python.
    pub python: &'static str,
    /// The one line of fanout.
    pub rust: &'static str,
    /// Runs the Rust program, printing as it goes.
    pub main: fn(),
}

/// `program!(1, "section", threading_basic)`: the entry of one example module.
macro_rules! program {
    ($number:literal, $section:literal, $example:ident) => {
        Program {
            number: $number,
            section: $section,
            example: stringify!($example),
            python: $example::PYTHON,
            rust: $example::RUST,
            main: $example::main,
        }
    };
}

/// Every program of the tour, in the tutorial's order.
#[rustfmt::skip]
pub(crate) const PROGRAMS: &[Program] = &[
    program!(1, "20.1 threading: basic use", threading_basic),
    program!(2, "20.1 threading: a Thread subclass", thread_subclass),
    program!(3, "20.2 multiprocessing: basic use", multiprocessing_basic),
    program!(4, "20.2 multiprocessing: a Process subclass", process_subclass),
    program!(5, "20.3 concurrent.futures: ThreadPoolExecutor", thread_pool),
    program!(6, "20.3 concurrent.futures: ProcessPoolExecutor", process_pool),
    program!(7, "20.4 asyncio: basic use", asyncio_basic),
    program!(8, "20.4 asyncio: gather", asyncio_gather),
    program!(9, "20.4 asyncio: HTTP requests with aiohttp", asyncio_http),
    program!(10, "Examples: threading, five workers", threading_workers),
    program!(11, "Examples: multiprocessing, five workers", multiprocessing_workers),
    program!(12, "Examples: concurrent.futures, five workers", futures_workers),
    program!(13, "Examples: asyncio, five workers", asyncio_workers),
    program!(14, "Concurrency versus parallelism", concurrency_vs_parallelism),
    program!(15, "Beyond: an endless stream, map(buffersize=)", stream_endless),
    program!(16, "Beyond: results as they complete, as_completed", as_completed),
    program!(17, "Beyond: a connection per worker, initializer=", init_connection),
    program!(18, "Beyond: the first to finish, FIRST_COMPLETED", race_solvers),
];

/// The number of the first program beyond the tutorial: what Python users
/// reach for next (README, "Beyond the tutorial").
pub(crate) const BEYOND: u32 = 15;

/// Parts of the tutorial that the tour does not show yet, in the tutorial's
/// order: (number, section, why).
#[rustfmt::skip]
pub(crate) const NOT_YET: &[(u32, &str, &str)] = &[
];

const RULE: &str = "========================================================================";

/// How long one program of the tour took.
pub(crate) struct Timing {
    pub number: u32,
    pub example: &'static str,
    pub elapsed: Duration,
}

/// Picks the programs that `selection` names (numbers or example names); all
/// of them when it is empty.
pub(crate) fn select(selection: &[String]) -> Result<Vec<&'static Program>, String> {
    if selection.is_empty() {
        return Ok(PROGRAMS.iter().collect());
    }
    let mut chosen = Vec::new();
    for wanted in selection {
        let wanted = wanted.trim_end_matches(".rs");
        let program = PROGRAMS
            .iter()
            .find(|p| p.example == wanted || p.number.to_string() == wanted);
        match program {
            Some(program) => chosen.push(program),
            None => {
                let known: Vec<String> = PROGRAMS
                    .iter()
                    .map(|p| format!("  {:>2}  {}", p.number, p.example))
                    .collect();
                return Err(format!(
                    "no program `{wanted}` in the tour; give a number or a name:\n{}",
                    known.join("\n")
                ));
            }
        }
    }
    Ok(chosen)
}

/// Runs the programs that `selection` names (all when empty), printing each,
/// and returns how long each took.
pub(crate) fn tour(selection: &[String]) -> Result<Vec<Timing>, String> {
    let programs = select(selection)?;
    intro(programs.len());
    let mut timings = Vec::new();
    let mut not_yet = NOT_YET.iter().peekable();
    let mut beyond_shown = false;
    for program in &programs {
        if selection.is_empty() {
            while let Some((number, section, why)) = not_yet.next_if(|(n, ..)| *n < program.number)
            {
                not_shown(*number, section, why);
            }
        }
        if program.number >= BEYOND && !beyond_shown {
            beyond_shown = true;
            beyond();
        }
        timings.push(show(program));
    }
    if selection.is_empty() {
        for (number, section, why) in not_yet {
            not_shown(*number, section, why);
        }
    }
    summary(&timings, selection.is_empty());
    Ok(timings)
}

fn intro(count: usize) {
    println!("fanout tour: the programs of a Python tutorial's chapter on concurrency and");
    println!("parallelism (병행성 및 병렬성), each as its Python, its one line of fanout, and");
    println!("the Rust program running live; then the programs beyond the tutorial.");
    let speed = speed();
    if speed == 1.0 {
        println!(
            "{count} programs; sleeps last as long as in the tutorial ({SPEED_VAR}=10 makes them ten times shorter)."
        );
    } else {
        println!("{count} programs; every sleep is divided by {speed} ({SPEED_VAR}).");
    }
    println!();
}

fn beyond() {
    println!("{RULE}");
    println!("Beyond the tutorial: what its readers reach for next, each program with");
    println!("the Python it replaces.");
    println!("{RULE}");
    println!();
}

fn not_shown(number: u32, section: &str, why: &str) {
    println!("{RULE}");
    println!("#{number}  {section}");
    println!("    not in the tour yet: {why}");
    println!("{RULE}");
    println!();
}

fn show(program: &Program) -> Timing {
    println!("{RULE}");
    println!("#{}  {}", program.number, program.section);
    println!(
        "    examples/{0}.rs, cargo run --example {0}",
        program.example
    );
    println!("{RULE}");
    println!();
    println!("Python:");
    println!();
    for line in program.python.lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("    {line}");
        }
    }
    println!();
    println!("fanout:");
    println!();
    println!("    {}", program.rust);
    println!();
    println!("Output:");
    println!();
    // Everything the tour printed is out before the program starts (and
    // before any child process is forked).
    let _ = std::io::stdout().flush();
    let ((), elapsed) = timed(program.main);
    println!();
    println!("({} took {})", program.example, seconds(elapsed));
    println!();
    Timing {
        number: program.number,
        example: program.example,
        elapsed,
    }
}

fn summary(timings: &[Timing], everything: bool) {
    println!("{RULE}");
    println!("Summary");
    println!("{RULE}");
    println!();
    let width = timings.iter().map(|t| t.example.len()).max().unwrap_or(0);
    for timing in timings {
        let program = PROGRAMS.iter().find(|p| p.number == timing.number);
        let rust = program.map_or("", |p| p.rust);
        println!(
            "  #{:<2}  {:<width$}  {:>8}   {rust}",
            timing.number,
            timing.example,
            seconds(timing.elapsed),
        );
    }
    let total: Duration = timings.iter().map(|t| t.elapsed).sum();
    println!("       {:<width$}  {:>8}", "in all", seconds(total));
    if everything && !NOT_YET.is_empty() {
        println!();
        println!("Not in the tour yet:");
        for (number, section, why) in NOT_YET {
            println!("  #{number:<2}  {section}: {why}");
        }
    }
}

#[cfg_attr(test, allow(dead_code))] // the tests call `tour` directly
pub fn main() {
    let selection: Vec<String> = std::env::args().skip(1).collect();
    if let Err(message) = tour(&selection) {
        eprintln!("{message}");
        std::process::exit(2);
    }
}
