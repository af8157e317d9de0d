//! pool_map!(...; mpi) under `mpirun -n 1`, `-n 2` and `-n 3` (Open MPI):
//! the example and this test binary itself are launched as MPI jobs, and
//! every rank's results must be complete, in order, and identical.
//!
//! Needs the `mpi` feature and Open MPI's `mpirun`:
//! `cargo test --features mpi --test mpi` (.ci/install installs Open MPI).
//!
//! This binary is also the MPI program: run with `FANOUT_MPI_SCENARIO=NAME`
//! and the filter `--exact scenario`, the `scenario` test runs the scenario
//! NAME on each rank and prints lines `rank R/N: ...` that the launching test
//! reads. Without that variable, `scenario` does nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fanout::mpi;
use fanout::pool_map;

#[path = "map_suite/mod.rs"]
mod map_suite;

const SCENARIO: &str = "FANOUT_MPI_SCENARIO";
/// Set when this binary runs the map suite as an MPI job.
const SUITE: &str = "FANOUT_MPI_SUITE";

// The engine's rules on MPI: on one rank here, and on two and three ranks in
// `the_map_suite_holds_on_several_ranks` (every rank runs the suite's tests in
// the same order, one at a time, as MPI maps must be).
suite!(mpi_suite, [mpi], here: (fanout::mpi::size() == 1).then_some(true), logs: fanout::mpi::size() == 1, serial: true);

#[test]
fn the_map_suite_holds_on_several_ranks() {
    if std::env::var_os(SCENARIO).is_some() || std::env::var_os(SUITE).is_some() {
        return;
    }
    let me = std::env::current_exe().unwrap();
    for size in [2, 3] {
        // Each rank's output in its own file: on the shared stdout the ranks'
        // partial lines interleave ("test result: okok").
        let outputs =
            std::env::temp_dir().join(format!("fanout-mpi-suite-{}-{size}", std::process::id()));
        let _ = std::fs::remove_dir_all(&outputs);
        let job = mpirun_with(
            size,
            &["--output-filename", outputs.to_str().unwrap()],
            &me,
            &["mpi_suite::", "--test-threads=1", "--color=never"],
            &[(SUITE, "1")],
            Duration::from_secs(300),
        );
        assert!(job.success, "the map suite failed on {size} ranks:\n{job}");
        for rank in 0..size {
            let text = rank_stdout(&outputs, rank);
            assert!(
                text.contains("test result: ok.") && !text.contains("running 0 tests"),
                "rank {rank} of {size} did not run the suite:\n{text}\n{job}"
            );
        }
        let _ = std::fs::remove_dir_all(&outputs);
    }
}

/// What rank `rank` printed, from the files of `mpirun --output-filename
/// DIR` (Open MPI writes `DIR/JOB/rank.R/stdout`).
fn rank_stdout(outputs: &Path, rank: usize) -> String {
    let jobs: Vec<PathBuf> = std::fs::read_dir(outputs)
        .unwrap_or_else(|e| panic!("mpirun wrote no {}: {e}", outputs.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(jobs.len(), 1, "one job's outputs in {}", outputs.display());
    let path = jobs[0].join(format!("rank.{rank}")).join("stdout");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("rank {rank} wrote no {}: {e}", path.display()))
}

/// What an MPI job did.
struct Job {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Job {
    /// The lines `rank R/N: TEXT` of rank `rank`, as `TEXT` (the test harness
    /// may print `test scenario ... ` before it on the same line).
    fn lines_of(&self, rank: usize, size: usize) -> Vec<&str> {
        let prefix = format!("rank {rank}/{size}: ");
        self.stdout
            .lines()
            .filter_map(|line| Some(&line[line.find(&prefix)? + prefix.len()..]))
            .collect()
    }

    /// Checks that every rank printed the same lines, and returns them.
    fn same_on_every_rank(&self, size: usize) -> Vec<String> {
        assert!(self.success, "the MPI job failed:\n{self}");
        let first: Vec<String> = self
            .lines_of(0, size)
            .into_iter()
            .map(String::from)
            .collect();
        assert!(!first.is_empty(), "rank 0 printed nothing:\n{self}");
        for rank in 1..size {
            assert_eq!(
                self.lines_of(rank, size),
                first,
                "rank {rank} differs from rank 0:\n{self}"
            );
        }
        first
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- stdout\n{}--- stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Runs `program ARGS` as `size` ranks under `mpirun`, stopping it after
/// `limit` (a hung job fails the test instead of hanging it).
fn mpirun(
    size: usize,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Job {
    mpirun_with(size, &[], program, args, env, limit)
}

/// [`mpirun`] with `options` of `mpirun` itself, before the program.
fn mpirun_with(
    size: usize,
    options: &[&str],
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Job {
    let mut command = Command::new("mpirun");
    command.args(["-n", &size.to_string(), "--oversubscribe"]);
    if running_as_root() {
        command.arg("--allow-run-as-root");
    }
    command.args(options);
    command.arg(program).args(args);
    // This test process may have started MPI itself (the suite's maps on one
    // rank): the variables Open MPI set then would make `mpirun` think it
    // runs inside that job.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if ["OMPI_", "PMIX_", "OPAL_", "PRTE_"]
            .iter()
            .any(|prefix| key.starts_with(prefix))
        {
            command.env_remove(&*key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run mpirun (install Open MPI: .ci/install): {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let job = Job {
                success: false,
                stdout: out.join().unwrap().unwrap_or_default(),
                stderr: err.join().unwrap().unwrap_or_default(),
            };
            panic!(
                "mpirun -n {size} {} hung for {limit:?}:\n{job}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Job {
        success: status.success(),
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs the scenario `name` of this binary as `size` ranks.
fn scenario_job(name: &str, size: usize) -> Job {
    let me = std::env::current_exe().unwrap();
    let args = ["--exact", "scenario", "--nocapture", "--test-threads=1"];
    mpirun(
        size,
        &me,
        &args,
        &[(SCENARIO, name)],
        Duration::from_secs(120),
    )
}

/// The example, built on first use into the target directory of this test.
fn example_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let me = std::env::current_exe().unwrap();
        let profile_dir = me.parent().and_then(Path::parent).unwrap(); // target/debug
        let target_dir = profile_dir.parent().unwrap();
        let mut build = Command::new(env!("CARGO"));
        build.args([
            "build",
            "--quiet",
            "--features",
            "mpi",
            "--example",
            "mpi_sweep",
        ]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cannot run cargo to build the example");
        assert!(status.success(), "cargo build --example mpi_sweep failed");
        profile_dir.join("examples").join("mpi_sweep")
    })
}

#[test]
fn the_example_sweep_is_complete_in_order_and_the_same_on_every_rank() {
    let example = example_binary();
    let mut digests = Vec::new();
    for size in [1, 2, 3] {
        let job = mpirun(
            size,
            example,
            &["12", "20000"],
            &[],
            Duration::from_secs(120),
        );
        let lines = job.same_on_every_rank(size);
        assert_eq!(lines.len(), 1, "{job}");
        assert!(lines[0].starts_with("12 results, digest "), "{job}");
        // The table, printed once (by rank 0): a header and one row per point.
        let rows = job.stdout.lines().filter(|l| l.starts_with("  ")).count();
        assert_eq!(rows, 12, "{job}");
        assert_eq!(job.stdout.matches("damping  settling").count(), 1, "{job}");
        digests.push(lines[0].clone());
    }
    // The same results in the same order, whatever the number of ranks.
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
}

#[test]
fn maps_are_complete_in_order_and_the_same_on_every_rank() {
    for size in [1, 2, 3] {
        let lines = scenario_job("maps", size).same_on_every_rank(size);
        assert_eq!(lines, ["maps ok"]);
    }
}

#[test]
fn the_ranks_share_the_work() {
    for size in [2, 3] {
        let job = scenario_job("share", size);
        let lines = job.same_on_every_rank(size);
        // Every rank ran some of the items.
        let counts: Vec<usize> = lines[0]
            .strip_prefix("items per rank ")
            .unwrap()
            .split(',')
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(counts.len(), size, "{job}");
        assert_eq!(counts.iter().sum::<usize>(), 40, "{job}");
        assert!(
            counts.iter().all(|&n| n > 0),
            "a rank did no work: {counts:?}\n{job}"
        );
        // The timeline, drawn once by rank 0, shows where each item ran.
        let charts = job
            .stderr
            .matches("timeline of pool_map!(...; mpi)")
            .count();
        assert_eq!(charts, 1, "{job}");
        assert!(job.stderr.contains("rank 1"), "{job}");
    }
}

#[test]
fn a_failing_item_is_reported_with_catch_and_try() {
    for size in [1, 3] {
        let job = scenario_job("failures", size);
        let lines = job.same_on_every_rank(size);
        assert_eq!(lines.len(), 3, "{job}");
        assert_eq!(lines[0], "catch: worker `simulate-7` panicked: boom 7");
        assert_eq!(lines[1], "try: invalid digit found in string");
        assert_eq!(lines[2], "try catch: worker `check-5` panicked: boom 5");
    }
}

#[test]
fn without_catch_a_failing_item_fails_every_rank() {
    for size in [1, 2] {
        let job = scenario_job("panic", size);
        assert!(!job.success, "the job should fail:\n{job}");
        assert!(
            job.stderr
                .contains("worker `simulate-3` panicked: boom 3 (on MPI rank "),
            "{job}"
        );
        assert!(!job.stdout.contains("after the map"), "{job}");
    }
}

#[test]
fn a_rank_that_dies_stops_the_job() {
    let job = scenario_job("die", 2);
    assert!(!job.success, "the job should fail:\n{job}");
    assert!(!job.stdout.contains("after the map"), "{job}");
}

#[test]
fn ranks_with_different_items_are_refused() {
    let job = scenario_job("mismatch", 2);
    assert!(!job.success, "the job should fail:\n{job}");
    assert!(
        job.stderr
            .contains("every rank must compute the same items"),
        "{job}"
    );
}

#[test]
fn init_builds_the_state_once_per_rank() {
    for size in [1, 2, 3] {
        let job = scenario_job("init", size);
        let lines = job.same_on_every_rank(size);
        assert_eq!(
            lines,
            [
                "init ran once on this rank".to_owned(),
                format!("{size} ranks ran items, each with its own state"),
            ],
            "{job}"
        );
    }
}

#[test]
fn a_panicking_init_fails_the_items_of_its_rank() {
    for size in [1, 3] {
        let job = scenario_job("init-panics", size);
        let lines = job.same_on_every_rank(size);
        let last = size - 1;
        assert_eq!(
            lines,
            [format!(
                "rank {last}'s items: did not run: the `init` of its worker panicked: no GPU (on MPI rank {last})"
            )],
            "{job}"
        );
    }
}

/// A `try` error type that crosses ranks, and takes worker failures (`catch`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Failure {
    Task(u32),
    Worker(String),
}

impl From<fanout::Error> for Failure {
    fn from(error: fanout::Error) -> Self {
        Failure::Worker(error.to_string())
    }
}

/// The MPI program: runs the scenario named by `FANOUT_MPI_SCENARIO`, if any.
#[test]
fn scenario() {
    let Ok(name) = std::env::var(SCENARIO) else {
        return;
    };
    let say = |text: &str| println!("rank {}/{}: {text}", mpi::rank(), mpi::size());
    match name.as_str() {
        "maps" => {
            // Several maps in one program, with every option that changes
            // how the items are shared out.
            let squares = pool_map!(|x: u64| x * x, 0..1000u64; mpi);
            assert_eq!(squares, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
            let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
            let lengths = pool_map!(|w: &String| w.len(), &words; mpi, chunksize = 7);
            assert_eq!(lengths, words.iter().map(String::len).collect::<Vec<_>>());
            let names = pool_map!(|_: u32| fanout::current_name().unwrap(), 0..5; mpi, workers = 2, name = "job");
            assert_eq!(names, ["job-0", "job-1", "job-2", "job-3", "job-4"]);
            let empty: Vec<u64> = pool_map!(|x: u64| x, Vec::<u64>::new(); mpi);
            assert!(empty.is_empty());
            let one = pool_map!(|x: u64| x + 1, [41u64]; mpi);
            assert_eq!(one, [42]);
            // Many small items: large messages, and a large broadcast.
            let many =
                pool_map!(|x: u64| x.wrapping_mul(0x9e37_79b9_7f4a_7c15), 0..1_000_000u64; mpi);
            assert!(
                many.iter()
                    .enumerate()
                    .all(|(i, &v)| v == (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            );
            say("maps ok");
        }
        "share" => {
            let ranks = pool_map!(|_: u32| {
                std::thread::sleep(Duration::from_millis(10));
                mpi::rank()
            }, 0..40; mpi, chunksize = 1, timeline);
            let counts: Vec<String> = (0..mpi::size())
                .map(|r| ranks.iter().filter(|&&x| x == r).count().to_string())
                .collect();
            say(&format!("items per rank {}", counts.join(",")));
        }
        "failures" => {
            let outcomes = pool_map!(|i: u32| {
                assert!(i != 7, "boom {i}");
                i
            }, 0..20; mpi, catch, name = "simulate");
            for (i, outcome) in outcomes.iter().enumerate() {
                if i != 7 {
                    assert_eq!(outcome.as_ref().ok(), Some(&(i as u32)));
                }
            }
            let failure = outcomes[7].as_ref().unwrap_err();
            assert_eq!(failure.worker(), "simulate-7");
            let message = failure.to_string();
            let (message, rank) = message.split_once(" (on MPI rank ").unwrap();
            assert!(rank.trim_end_matches(')').parse::<usize>().unwrap() < mpi::size());
            say(&format!("catch: {message}"));

            let texts: Vec<String> = (0..50)
                .map(|i| if i == 20 { "x".into() } else { i.to_string() })
                .collect();
            let parsed: Result<Vec<u8>, String> = pool_map!(|s: &String| s.parse::<u8>().map_err(|e| e.to_string()), &texts; mpi, try);
            say(&format!("try: {}", parsed.unwrap_err()));

            // try + catch: the panic of item 5 comes before the error of item 8.
            let caught: Result<Vec<u32>, Failure> = pool_map!(|i: u32| {
                assert!(i != 5, "boom {i}");
                if i == 8 { Err(Failure::Task(i)) } else { Ok(i) }
            }, 0..12; mpi, try, catch, name = "check");
            // timeout: no item starts after the deadline.
            let timed = pool_map!(|i: u32| {
                std::thread::sleep(Duration::from_millis(30));
                i
            }, 0..40; mpi, catch, chunksize = 1, timeout = Duration::from_millis(100));
            assert_eq!(timed[0].as_ref().ok(), Some(&0));
            assert!(timed[39].as_ref().unwrap_err().is_timeout());
            let late = timed.iter().filter(|o| o.is_err()).count();
            assert!(late > 20, "{late} items late");

            match caught {
                Err(Failure::Worker(message)) => {
                    say(&format!(
                        "try catch: {}",
                        message.split(" (on MPI rank ").next().unwrap()
                    ));
                }
                other => panic!("try + catch gave {other:?}"),
            }
        }
        "init" => {
            // Each item says where it ran and how many items that rank's
            // state had seen: one state per rank, kept across its chunks.
            static INITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let seen = pool_map!(|state: &mut (usize, u32), _i: u32| {
                std::thread::sleep(Duration::from_millis(10));
                state.1 += 1;
                *state
            }, 0..30u32; mpi, chunksize = 1, init = || {
                INITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (mpi::rank(), 0u32)
            });
            let inits = INITS.load(std::sync::atomic::Ordering::SeqCst);
            say(if inits == 1 {
                "init ran once on this rank".to_owned()
            } else {
                format!("init ran {inits} times on this rank")
            }
            .as_str());
            let mut ranks = 0;
            for rank in 0..mpi::size() {
                let mut counts: Vec<u32> = seen
                    .iter()
                    .filter(|(r, _)| *r == rank)
                    .map(|(_, n)| *n)
                    .collect();
                counts.sort_unstable();
                // Its state counted 1, 2, ... n: the same state for all.
                assert_eq!(
                    counts,
                    (1..=counts.len() as u32).collect::<Vec<_>>(),
                    "{seen:?}"
                );
                ranks += usize::from(!counts.is_empty());
            }
            say(&format!("{ranks} ranks ran items, each with its own state"));
        }
        "init-panics" => {
            let last = mpi::size() - 1;
            let outcomes = pool_map!(|base: &mut u32, i: u32| {
                std::thread::sleep(Duration::from_millis(10));
                (*base + i, mpi::rank())
            }, 0..12u32; mpi, catch, chunksize = 1, name = "gpu", init = || -> u32 {
                assert!(mpi::rank() != mpi::size() - 1, "no GPU");
                100
            });
            let mut failures = std::collections::BTreeSet::new();
            for (i, outcome) in outcomes.iter().enumerate() {
                match outcome {
                    Ok((value, rank)) => {
                        assert_eq!(*value, 100 + i as u32);
                        assert_ne!(*rank, last);
                    }
                    Err(error) => {
                        assert!(
                            matches!(error.kind(), fanout::ErrorKind::Init(_)),
                            "{error}"
                        );
                        let text = error.to_string();
                        let prefix = format!("worker `gpu-{i}` ");
                        failures.insert(text.strip_prefix(&prefix).unwrap_or(&text).to_owned());
                    }
                }
            }
            let failures: Vec<String> = failures.into_iter().collect();
            say(&format!("rank {last}'s items: {}", failures.join(" | ")));
        }
        "panic" => {
            let _ = pool_map!(|i: u32| {
                assert!(i != 3, "boom {i}");
                i
            }, 0..10; mpi, name = "simulate");
            say("after the map");
        }
        "die" => {
            let _ = pool_map!(|i: u32| {
                std::thread::sleep(Duration::from_millis(5));
                if mpi::rank() == 1 {
                    std::process::abort(); // rank 1 dies on its first item
                }
                i
            }, 0..20; mpi, chunksize = 1);
            say("after the map");
        }
        "mismatch" => {
            let items = 10 + mpi::rank();
            let _ = pool_map!(|i: usize| i, 0..items; mpi);
            say("after the map");
        }
        other => panic!("no scenario {other}"),
    }
}
