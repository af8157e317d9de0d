//! The tour and every example program, run in the test suite twenty times
//! faster than the tutorial's sleeps (what `FANOUT_TOUR_SPEED=20` does for
//! `cargo run --example tour`).
//!
//! The examples are included as modules of the tour, as `cargo run --example
//! tour` builds them; each has a `run()` that returns what it printed or
//! computed, which the tests check, and a `main()` that the tour runs.
//! Concurrency is checked with bounds far from both the concurrent and the
//! one-after-another durations.

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../examples/tour.rs"]
mod tour;

// The examples reach their helpers as `crate::common`, as they do in the tour.
use tour::common;
use tour::{BEYOND, NOT_YET, PROGRAMS};

const SPEED: f64 = 20.0;

/// Every test starts with this: all sleeps become twenty times shorter.
fn fast() {
    common::set_speed(SPEED);
}

/// `secs` seconds of the tutorial, at the tests' speed.
fn tutorial(secs: f64) -> Duration {
    Duration::from_secs_f64(secs / SPEED)
}

fn timed<T>(program: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let output = program();
    (output, start.elapsed())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn worker_names() -> Vec<String> {
    (0..5).map(|i| format!("worker-{i}")).collect()
}

#[test]
fn threading_basic_runs_both_threads_side_by_side() {
    fast();
    let ((numbers, letters), elapsed) = timed(tour::threading_basic::run);
    assert_eq!(
        numbers,
        strings(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
    );
    assert_eq!(
        letters,
        strings(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
    );
    // Each thread sleeps 10 × 0.5 s; one after the other they would take 10 s.
    assert!(elapsed >= tutorial(5.0), "{elapsed:?}");
    assert!(elapsed < tutorial(8.5), "not side by side: {elapsed:?}");
}

#[test]
fn thread_subclass_runs_both_tasks_side_by_side() {
    fast();
    let ((), elapsed) = timed(tour::thread_subclass::run);
    assert!(elapsed >= tutorial(5.0), "{elapsed:?}");
    assert!(elapsed < tutorial(8.5), "not side by side: {elapsed:?}");
}

#[test]
fn thread_pool_returns_outputs_in_input_order() {
    fast();
    let printed = tour::thread_pool::run();
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(printed, expected);
}

#[test]
fn asyncio_basic_says_hello_then_world() {
    fast();
    let (lines, elapsed) = timed(tour::asyncio_basic::run);
    assert_eq!(lines, strings(&["Hello", "World"]));
    assert!(elapsed >= tutorial(1.0), "{elapsed:?}");
}

#[test]
fn asyncio_gather_takes_as_long_as_the_longest_task() {
    fast();
    let ((task1, task2), elapsed) = timed(tour::asyncio_gather::run);
    assert_eq!(task1, strings(&["Task 1 start", "Task 1 end"]));
    assert_eq!(task2, strings(&["Task 2 start", "Task 2 end"]));
    // 2 s and 1 s together: 2 s, where awaiting one after the other takes 3 s.
    assert!(elapsed >= tutorial(2.0), "{elapsed:?}");
    assert!(elapsed < tutorial(2.8), "not concurrent: {elapsed:?}");
}

#[test]
fn threading_workers_sleep_together_on_named_threads() {
    fast();
    let (names, elapsed) = timed(tour::threading_workers::run);
    assert_eq!(names, worker_names());
    assert!(elapsed >= tutorial(1.0), "{elapsed:?}");
    assert!(elapsed < tutorial(3.0), "not concurrent: {elapsed:?}");
}

#[test]
fn futures_workers_sleep_together_in_the_pool() {
    fast();
    let (names, elapsed) = timed(tour::futures_workers::run);
    assert_eq!(names, worker_names());
    assert!(elapsed >= tutorial(1.0), "{elapsed:?}");
    assert!(elapsed < tutorial(3.0), "not concurrent: {elapsed:?}");
}

#[test]
fn asyncio_workers_sleep_together_in_one_gather() {
    fast();
    let (names, elapsed) = timed(tour::asyncio_workers::run);
    assert_eq!(names, worker_names());
    assert!(elapsed >= tutorial(1.0), "{elapsed:?}");
    assert!(elapsed < tutorial(3.0), "not concurrent: {elapsed:?}");
}

#[test]
fn multiprocessing_basic_runs_two_children() {
    fast();
    let (p1, p2) = tour::multiprocessing_basic::run();
    let parent = std::process::id();
    assert_ne!(p1, p2);
    assert!(p1 != parent && p2 != parent, "{p1} {p2} {parent}");
}

#[test]
fn process_subclass_runs_each_task_in_its_own_child() {
    fast();
    let (p1, p2) = tour::process_subclass::run();
    let parent = std::process::id();
    assert_ne!(p1, p2);
    assert!(p1 != parent && p2 != parent, "{p1} {p2} {parent}");
}

#[test]
fn process_pool_returns_the_squares_in_order() {
    fast();
    let squares = tour::process_pool::run();
    assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
}

#[test]
fn multiprocessing_workers_sleep_together_in_five_processes() {
    fast();
    let (pids, elapsed) = timed(tour::multiprocessing_workers::run);
    assert_eq!(pids.len(), 5);
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{pids:?}");
    assert!(!pids.contains(&std::process::id()));
    assert!(elapsed >= tutorial(1.0), "{elapsed:?}");
    assert!(elapsed < tutorial(3.0), "not concurrent: {elapsed:?}");
}

#[test]
fn concurrency_takes_turns_on_one_thread_and_parallelism_spreads_out() {
    fast();
    let ways = tour::concurrency_vs_parallelism::run();
    let names: Vec<&str> = ways.iter().map(|w| w.name).collect();
    assert_eq!(names, ["gather!", "spawn_threads!", "spawn_processes!"]);
    let [concurrent, threads, processes] = &ways[..] else {
        unreachable!()
    };
    // gather!: one thread, every job sharing the same stretch of time.
    assert_eq!(concurrent.places(), 1);
    assert!(
        concurrent.all_overlap(),
        "the jobs took turns: {:?}",
        concurrent.jobs
    );
    // spawn_threads! and spawn_processes!: one thread or process per job.
    assert_eq!(threads.places(), tour::concurrency_vs_parallelism::JOBS);
    assert_eq!(processes.places(), tour::concurrency_vs_parallelism::JOBS);
    let pids: Vec<&str> = processes
        .jobs
        .iter()
        .map(|j| j.place.split(' ').nth(1).unwrap())
        .collect();
    assert!(
        !pids.contains(&std::process::id().to_string().as_str()),
        "{pids:?}"
    );
    // The same arithmetic, whatever the way.
    for way in &ways {
        let sums: Vec<u64> = way.jobs.iter().map(|j| j.sum).collect();
        assert_eq!(
            sums,
            vec![concurrent.jobs[0].sum; tour::concurrency_vs_parallelism::JOBS]
        );
    }
}

#[test]
fn stream_endless_takes_a_million_squares_in_bounded_memory() {
    use tour::stream_endless::{CHECKPOINTS, TAKEN};
    fast();
    let streamed = tour::stream_endless::run();
    assert_eq!(streamed.count, TAKEN);
    let n = TAKEN as u64;
    assert_eq!(streamed.last, (n - 1) * (n - 1));
    // 0² + 1² + ... + (n - 1)²
    assert_eq!(streamed.sum, (n - 1) * n * (2 * n - 1) / 6);
    let counts: Vec<usize> = streamed.peaks.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, CHECKPOINTS);
    if cfg!(target_os = "linux") {
        // Loosely, as other tests run in this process too: the last 999 000
        // squares took less memory than they would collected.
        let growth = streamed.growth_kib().expect("VmHWM on Linux");
        let collected = (TAKEN * size_of::<u64>() / 1024) as u64;
        assert!(
            growth < collected,
            "the peak grew by {growth} KiB over the stream"
        );
    }
}

/// Checks `(index, page)` pairs of the as_completed example: every page once,
/// each with its own index, roughly fastest first.
fn check_completion_order(done: &[(usize, String)]) {
    use tour::as_completed::PAGES;
    let mut indexes: Vec<usize> = done.iter().map(|(index, _)| *index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..PAGES.len()).collect::<Vec<_>>());
    for (index, page) in done {
        assert_eq!(page, &format!("page of {}", PAGES[*index].0));
    }
    // A page never completes after one that answers 0.3 s (of the tutorial)
    // later: far apart enough for a loaded machine.
    let delays: Vec<f64> = done.iter().map(|(index, _)| PAGES[*index].1).collect();
    for (k, earlier) in delays.iter().enumerate() {
        for later in &delays[k + 1..] {
            assert!(
                *earlier < later + 0.3,
                "{earlier} s completed before {later} s: {done:?}"
            );
        }
    }
    assert_ne!(
        indexes,
        done.iter().map(|(index, _)| *index).collect::<Vec<_>>(),
        "in input order"
    );
}

#[test]
fn as_completed_yields_pages_as_they_complete() {
    fast();
    let (completed, elapsed) = timed(tour::as_completed::run);
    check_completion_order(&completed.pool);
    check_completion_order(&completed.gather);
    // Each way, the pages answer together: about 1.15 s, not 5 s.
    assert!(elapsed >= tutorial(2.0 * 1.15), "{elapsed:?}");
    assert!(
        elapsed < tutorial(2.0 * 1.15 + 2.0),
        "not concurrent: {elapsed:?}"
    );
}

#[test]
fn init_connection_opens_one_connection_per_worker() {
    use tour::init_connection::{IDS, connections_named};
    fast();
    let (threads, processes) = tour::init_connection::run();
    for part in [&threads, &processes] {
        assert_eq!(part.rows.len(), IDS as usize);
        for (id, row) in part.rows.iter().enumerate() {
            assert!(
                row.starts_with(&format!("user {id} (connection #")),
                "{row}"
            );
        }
        assert_eq!(connections_named(&part.rows).len(), part.connections);
    }
    // Three worker threads: at most three connections for twelve lookups.
    assert!(
        (1..=3).contains(&threads.connections),
        "{} connections",
        threads.connections
    );
    // recycle = 3: a fresh worker process, with a fresh connection, after
    // at most three items.
    assert!(processes.connections >= 4, "{}", processes.connections);
    for connection in connections_named(&processes.rows) {
        let served = processes
            .rows
            .iter()
            .filter(|row| row.ends_with(&format!("({connection}")))
            .count();
        assert!(served <= 3, "{connection} served {served} lookups");
    }
}

#[test]
fn race_solvers_takes_the_first_answer() {
    use tour::race_solvers::{CITIES, Problem, solve_exact, solve_heuristic};
    fast();
    let raced = tour::race_solvers::run();
    // The exact solver needs minutes for 13 cities: the heuristic wins, and
    // the race does not wait for the loser.
    assert_eq!(raced.solution.solver, "nearest neighbour");
    assert!(
        raced.solved_in < Duration::from_secs(2),
        "{:?}",
        raced.solved_in
    );
    let mut order = raced.solution.order.clone();
    assert_eq!(order[0], 0);
    order.sort_unstable();
    assert_eq!(order, (0..CITIES).collect::<Vec<_>>());
    let problem = Problem::new(CITIES);
    assert_eq!(problem.length(&raced.solution.order), raced.solution.length);
    // On a small problem the exact solver finishes, and is never worse.
    let small = Problem::new(7);
    let (exact, heuristic) = (solve_exact(&small), solve_heuristic(&small));
    assert!(exact.length <= heuristic.length, "{exact:?} {heuristic:?}");
    // The mirrors: the nearer one wins, and the race ends with it.
    assert_eq!(raced.download, "fanout-0.1.0.tar.gz from mirror b");
    assert!(
        raced.downloaded_in >= tutorial(0.3),
        "{:?}",
        raced.downloaded_in
    );
    assert!(
        raced.downloaded_in < tutorial(0.8),
        "{:?}",
        raced.downloaded_in
    );
}

#[test]
fn the_tour_runs_every_program_in_the_tutorials_order() {
    fast();
    let timings = tour::tour(&[]).expect("the whole tour");
    let run: Vec<u32> = timings.iter().map(|t| t.number).collect();
    let listed: Vec<u32> = PROGRAMS.iter().map(|p| p.number).collect();
    assert_eq!(run, listed);
    assert!(run.windows(2).all(|w| w[0] < w[1]), "out of order: {run:?}");
}

#[test]
fn every_program_of_the_tutorial_is_in_the_tour_or_listed_as_not_yet() {
    let mut numbers: Vec<u32> = PROGRAMS
        .iter()
        .map(|p| p.number)
        .chain(NOT_YET.iter().map(|(n, ..)| *n))
        .collect();
    numbers.sort_unstable();
    // The 13 programs of the design notes, the closing demo as 14, and the
    // programs beyond the tutorial.
    assert_eq!(numbers, (1..=18).collect::<Vec<u32>>());
    assert_eq!(BEYOND, 15);
    assert!(
        PROGRAMS
            .iter()
            .filter(|p| p.number >= BEYOND)
            .all(|p| p.section.starts_with("Beyond: ")),
        "the programs beyond the tutorial say so"
    );
    let not_yet: Vec<u32> = NOT_YET.iter().map(|(n, ..)| *n).collect();
    assert!(not_yet.windows(2).all(|w| w[0] < w[1]), "{not_yet:?}");
}

#[test]
fn the_tour_picks_programs_by_number_or_name() {
    let picked = tour::select(&["13".to_owned(), "threading_workers.rs".to_owned()])
        .expect("known programs");
    let names: Vec<&str> = picked.iter().map(|p| p.example).collect();
    assert_eq!(names, ["asyncio_workers", "threading_workers"]);
    let unknown = tour::select(&["asyncio_workerz".to_owned()])
        .err()
        .expect("an unknown program");
    assert!(
        unknown.contains("no program `asyncio_workerz`"),
        "{unknown}"
    );
    assert!(unknown.contains("asyncio_workers"), "{unknown}");
}

/// The example's source, as a reader finds it in `examples/`.
fn source(example: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{example}.rs"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A line of Python without its trailing `  # comment` (the tutorial's
/// comments are Korean; the examples may quote them or not).
fn without_comment(line: &str) -> String {
    match line.find("  # ") {
        Some(at) => line[..at].to_owned(),
        None => line.to_owned(),
    }
}

#[test]
fn each_example_runs_its_rust_line_and_quotes_its_python() {
    for program in PROGRAMS {
        let source = source(program.example);
        let code_lines = source.lines().filter(|line| {
            let line = line.trim_start();
            !line.starts_with("//") && !line.starts_with("pub const RUST")
        });
        assert!(
            code_lines
                .into_iter()
                .any(|line| line.contains(program.rust)),
            "examples/{}.rs never runs `{}`",
            program.example,
            program.rust
        );
        let quoted: Vec<String> = source
            .lines()
            .skip_while(|line| *line != "//! ```python")
            .skip(1)
            .take_while(|line| *line != "//! ```")
            .map(|line| {
                line.strip_prefix("//! ")
                    .unwrap_or(line.trim_start_matches("//!"))
            })
            .map(without_comment)
            .collect();
        let python: Vec<String> = program.python.lines().map(without_comment).collect();
        assert_eq!(
            quoted, python,
            "the doc comment of examples/{}.rs quotes other Python than its PYTHON",
            program.example
        );
    }
}
