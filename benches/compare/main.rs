//! `cargo bench --bench compare`: every fanout macro against the Rust a user
//! would write by hand and against the Python original, side by side in one
//! run, printed as a Markdown table (see docs/performance.md).
//!
//! Options (after `--`): `--quick` (fewer rounds), `--no-python`,
//! `--only NAME,NAME` (row names: threads, processes, pool, process-pool,
//! cpu-pool, cpu-process-pool, gather, unordered, large-output, large-parent,
//! tiny-map, first-result, race, memory, stream-rss), and `--profile NAME-fanout`,
//! `NAME-hand` or `NAME-floor [REPEATS]` to run one side alone under a profiler.

mod fork;
mod rss;
mod timing;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use timing::{Pair, show};

/// One workload: its sizes, rounds, target and Python script.
struct Workload {
    name: &'static str,
    what: &'static str,
    n: u64,
    rounds: usize,
    target: Target,
    fanout: Side,
    hand: Side,
    /// What the operation costs at the least (a third side, timed in the same
    /// rounds, output not checked), printed on a second line.
    floor: Option<(&'static str, Side)>,
    python: Option<&'static str>,
    /// The workload mostly sleeps: its Python ratios are shown without a
    /// verdict (the "Python / fanout ≥ 10" target is for work, not waiting).
    sleeps: bool,
}

/// How one side of a workload runs.
#[derive(Clone, Copy)]
enum Side {
    /// The whole call is timed.
    Call(fn(u64) -> Vec<u64>),
    /// The side times itself (e.g. to its first result) and says how long.
    SelfTimed(fn(u64) -> (Vec<u64>, Duration)),
}

impl Side {
    fn run(self, n: u64) -> (Vec<u64>, Duration) {
        match self {
            Side::Call(f) => timing::timed(|| f(n)),
            Side::SelfTimed(f) => f(n),
        }
    }
}

/// What fanout's median must hold to.
#[derive(Clone, Copy)]
enum Target {
    /// fanout / hand-written at most this.
    Ratio(f64),
    /// fanout's median at most this long.
    Within(Duration),
}

fn workloads() -> Vec<Workload> {
    use workloads::*;
    vec![
        Workload {
            name: "threads",
            what: "1 000 threads returning a number",
            n: 1_000,
            rounds: 21,
            target: Target::Ratio(1.05),
            fanout: Side::Call(threads_fanout),
            hand: Side::Call(threads_hand),
            python: Some("threads.py"),
            floor: None,
            sleeps: false,
        },
        Workload {
            name: "processes",
            what: "100 processes returning a number",
            n: 100,
            rounds: 21,
            target: Target::Ratio(1.10),
            fanout: Side::Call(processes_fanout),
            hand: Side::Call(processes_hand),
            python: Some("processes.py"),
            // Not below the hand-written side but above it: the same fork
            // with what fanout guarantees each child (fork::each_guarded).
            floor: Some((
                "the same by hand with fanout's guarantees (stdio locks, dies with its parent, crash signals)",
                Side::Call(processes_guarded),
            )),
            sleeps: false,
        },
        Workload {
            name: "pool",
            what: "pool_map! 1 000 000 squares, 4 threads",
            n: 1_000_000,
            rounds: 41,
            target: Target::Ratio(1.10),
            fanout: Side::Call(pool_fanout),
            hand: Side::Call(pool_hand),
            python: Some("thread_pool.py"),
            // Above the hand-written side: the same map by hand keeping
            // each item's index where its worker's name reads it, as
            // fanout must for `current_name()` and a panic's item.
            floor: Some((
                "the same by hand, each item's index stored for its worker's name (one thread-local store per item)",
                Side::Call(pool_named),
            )),
            sleeps: false,
        },
        Workload {
            name: "process-pool",
            what: "pool_map!(processes) 100 000 squares, 2 workers",
            n: 100_000,
            rounds: 21,
            target: Target::Ratio(1.25),
            fanout: Side::Call(process_pool_fanout),
            hand: Side::Call(process_pool_hand),
            python: Some("process_pool.py"),
            // Above the hand-written side: the same map by hand with what
            // the pool promises per item (fork::split_answering).
            floor: Some((
                "the same by hand, each answer published as its item ends",
                Side::Call(process_pool_answering),
            )),
            sleeps: false,
        },
        Workload {
            name: "cpu-pool",
            what: "pool_map! 400 × ~1 ms items, 2 threads",
            n: 400,
            rounds: 9,
            target: Target::Ratio(1.02),
            fanout: Side::Call(cpu_pool_fanout),
            hand: Side::Call(cpu_pool_hand),
            python: Some("cpu_thread_pool.py"),
            floor: None,
            sleeps: false,
        },
        Workload {
            name: "cpu-process-pool",
            what: "pool_map!(processes) 400 × ~1 ms items, 2 workers",
            n: 400,
            rounds: 9,
            target: Target::Ratio(1.02),
            fanout: Side::Call(cpu_process_pool_fanout),
            hand: Side::Call(cpu_process_pool_hand),
            python: Some("cpu_process_pool.py"),
            floor: None,
            sleeps: false,
        },
        Workload {
            name: "gather",
            what: "gather! 100 000 futures yielding once",
            n: 100_000,
            rounds: 41,
            target: Target::Ratio(1.10),
            fanout: Side::Call(gather_fanout),
            hand: Side::Call(gather_hand),
            python: Some("gather.py"),
            floor: None,
            sleeps: false,
        },
        Workload {
            name: "unordered",
            what: "gather!(unordered, limit = 100) 1 000 random 0–2 ms sleeps",
            n: UNORDERED_ITEMS,
            rounds: 21,
            target: Target::Ratio(1.10),
            fanout: Side::Call(unordered_fanout),
            hand: Side::Call(unordered_hand),
            floor: None,
            python: Some("unordered.py"),
            sleeps: true,
        },
        Workload {
            name: "large-output",
            what: "spawn_processes! returning 256 MiB",
            n: 1,
            rounds: 9,
            target: Target::Ratio(1.5),
            fanout: Side::Call(large_output_fanout),
            hand: Side::Call(large_output_hand),
            floor: None,
            python: Some("large_output.py"),
            sleeps: false,
        },
        Workload {
            name: "large-parent",
            what: "20 processes from a parent with 1 GiB resident",
            n: 20,
            rounds: 21,
            target: Target::Ratio(1.10),
            fanout: Side::Call(large_parent_fanout),
            hand: Side::Call(large_parent_hand),
            floor: Some((
                "20 × fork + _exit + waitpid",
                Side::Call(large_parent_floor),
            )),
            python: Some("large_parent.py"),
            sleeps: false,
        },
        Workload {
            name: "tiny-map",
            what: "pool_map! 8 cheap items, 2 threads, × 1 000 calls",
            n: 1_000,
            rounds: 21,
            target: Target::Ratio(1.2),
            fanout: Side::Call(tiny_map_fanout),
            hand: Side::Call(tiny_map_hand),
            floor: Some(("the serial loop", Side::Call(tiny_map_floor))),
            python: Some("tiny_map.py"),
            sleeps: false,
        },
        Workload {
            name: "first-result",
            what: "first result of pool_map!(stream) over 1 000 × 1 ms items, 2 workers",
            n: 1_000,
            rounds: 9,
            target: Target::Within(Duration::from_millis(2)),
            fanout: Side::SelfTimed(first_result_fanout),
            hand: Side::SelfTimed(first_result_hand),
            floor: Some((
                "the collecting form (its first result is its last)",
                Side::Call(first_result_floor),
            )),
            python: None,
            sleeps: true,
        },
        Workload {
            name: "race",
            what: "spawn_processes!(race) of a 1 ms and a 10 s process",
            n: 2,
            rounds: 21,
            // The winner's 1 ms and at most 50 ms to kill and reap the loser.
            target: Target::Within(Duration::from_millis(51)),
            fanout: Side::Call(race_fanout),
            hand: Side::Call(race_hand),
            floor: None,
            python: None,
            sleeps: true,
        },
    ]
}

struct Args {
    quick: bool,
    python: bool,
    only: Option<Vec<String>>,
    /// In a child: the one row to measure.
    row: Option<String>,
}

fn parse_args() -> Option<Args> {
    let mut args = Args {
        quick: false,
        python: true,
        only: None,
        row: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--rss" => {
                rss::child(&argv.next().expect("--rss VARIANT"));
                return None;
            }
            "--profile" => {
                let variant = argv
                    .next()
                    .expect("--profile NAME-fanout|NAME-hand [REPEATS]");
                let repeats = argv.next().map_or(1, |r| r.parse().expect("REPEATS"));
                profile(&variant, repeats);
                return None;
            }
            "--row" => args.row = Some(argv.next().expect("--row NAME")),
            "--quick" => args.quick = true,
            "--no-python" => args.python = false,
            "--only" => {
                let names = argv.next().expect("--only NAME,NAME");
                args.only = Some(names.split(',').map(str::to_owned).collect());
            }
            // What `cargo bench` passes to every bench binary.
            "--bench" => {}
            other => panic!("unknown option {other}; see benches/compare/main.rs"),
        }
    }
    Some(args)
}

/// `--profile threads-fanout 10`: runs one side of one workload alone, for
/// `perf`, `strace -c` or `valgrind --tool=callgrind`.
fn profile(variant: &str, repeats: usize) {
    let (name, side) = variant
        .rsplit_once('-')
        .unwrap_or_else(|| panic!("--profile NAME-fanout or NAME-hand, not {variant}"));
    let workload = workloads()
        .into_iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no workload named {name}"));
    let run = match side {
        "fanout" => workload.fanout,
        "hand" => workload.hand,
        "floor" => workload.floor.expect("this workload has no floor").1,
        other => panic!("--profile NAME-fanout, NAME-hand or NAME-floor, not {other}"),
    };
    for _ in 0..repeats {
        std::hint::black_box(run.run(workload.n));
    }
}

fn main() {
    let Some(args) = parse_args() else { return };
    if let Some(name) = &args.row {
        let workload = workloads()
            .into_iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no workload named {name}"));
        println!("{}", measure_row(&workload, &args).0);
        return;
    }
    let wanted = |name: &str| {
        args.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|n| n == name))
    };
    println!("fanout vs hand-written Rust vs Python: medians, side by side in one run");
    println!("machine: {}", machine());
    if args.python {
        for python in PYTHONS {
            let found = interpreter(python).map_or_else(
                || "not found (—)".to_owned(),
                |(path, version)| format!("{version} ({})", path.display()),
            );
            println!("Python {python}: {found}");
        }
    }
    println!();
    println!(
        "| workload | fanout | hand-written | fanout / hand | target | Python 3.11 | 3.11 / fanout | Python 3.13 | 3.13 / fanout |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for workload in workloads() {
        if wanted(workload.name) {
            print_row_from_child(workload.name, &args);
        }
    }
    if wanted("memory") {
        memory_rows();
    }
    if wanted("stream-rss") {
        stream_rss_row(&args);
    }
}

/// Each row is measured in a fresh process (this binary with `--row NAME`),
/// as each Python script is: what one workload leaves behind (thread stacks
/// kept by the allocator, started pools) does not slow the next one's forks.
fn print_row_from_child(name: &str, args: &Args) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut command = Command::new(exe);
    command.args(["--row", name]);
    if args.quick {
        command.arg("--quick");
    }
    if !args.python {
        command.arg("--no-python");
    }
    let out = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the row child");
    assert!(out.status.success(), "the row {name} failed");
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn measure_row(workload: &Workload, args: &Args) -> Row {
    let rounds = if args.quick {
        workload.rounds.div_ceil(4).max(3)
    } else {
        workload.rounds
    };
    let pythons = PYTHONS.map(|version| {
        let script = workload.python.filter(|_| args.python)?;
        let (path, _) = interpreter(version)?;
        Some(run_python(&path, script, workload.n, args.quick))
    });
    let n = workload.n;
    let mut floor = workload.floor.map(|(_, side)| move || side.run(n).1);
    let pair = timing::compare(
        rounds,
        || workload.fanout.run(n),
        || workload.hand.run(n),
        floor.as_mut().map(|f| f as &mut dyn FnMut() -> Duration),
    );
    Row::timed(workload, &pair, &pythons)
}

/// A printed row of the table.
struct Row(String);

impl Row {
    fn timed(workload: &Workload, pair: &Pair, pythons: &[Option<Python>]) -> Row {
        let fanout = pair.fanout_median();
        let ratio = pair.ratio();
        let (met, target) = match workload.target {
            Target::Ratio(most) => (ratio <= most, format!("≤ {most:.2}")),
            Target::Within(most) => (fanout <= most, format!("fanout ≤ {}", show(most))),
        };
        let verdict = if met { "✓" } else { "✗" };
        let python_columns: Vec<String> = pythons
            .iter()
            .map(|python| python_columns(python.as_ref(), fanout, workload.sleeps))
            .collect();
        let mut row = format!(
            "| {} | {} | {} | {ratio:.2} (paired {:.2}) | {target} {verdict} | {} |",
            workload.what,
            show(fanout),
            show(pair.hand_median()),
            pair.paired_ratio(),
            python_columns.join(" | "),
        );
        if let (Some((what, _)), Some(floor)) = (workload.floor, pair.floor_median()) {
            // Four decimals where a side is far below its floor (first-result).
            let over = |side: Duration| {
                let times = side.as_secs_f64() / floor.as_secs_f64();
                if times >= 0.1 {
                    format!("{times:.2}")
                } else {
                    format!("{times:.4}")
                }
            };
            row += &format!(
                "\n| ↳ floor: {what} | {} | | fanout / floor {}, hand / floor {} | | | | | |",
                show(floor),
                over(fanout),
                over(pair.hand_median()),
            );
        }
        Row(row)
    }
}

/// The interpreters of the Python columns.
const PYTHONS: [&str; 2] = ["3.11", "3.13"];

/// `Python 3.X` and `3.X / fanout` for one interpreter: — where it is missing;
/// no verdict on a row that mostly sleeps.
fn python_columns(python: Option<&Python>, fanout: Duration, sleeps: bool) -> String {
    let Some(python) = python else {
        return "— | —".into();
    };
    let times = python.median.as_secs_f64() / fanout.as_secs_f64();
    let verdict = match (sleeps, times >= 10.0) {
        (true, _) => "",
        (false, true) => " ✓",
        (false, false) => " ✗",
    };
    format!("{} | {times:.1}{verdict}", python.show())
}

/// The newest pyenv `3.X.*` (under `$PYENV_ROOT` or `~/.pyenv`), else
/// `python3.X` on PATH: its path and `python --version`.
fn interpreter(version: &str) -> Option<(PathBuf, String)> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")));
    let prefix = format!("{version}.");
    let newest = root
        .and_then(|root| std::fs::read_dir(root.join("versions")).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let patch: u32 = name.strip_prefix(&prefix)?.parse().ok()?;
            let path = entry.path().join("bin").join(format!("python{version}"));
            path.exists().then_some((patch, path))
        })
        .max()
        .map(|(_, path)| path);
    let path = newest.unwrap_or_else(|| PathBuf::from(format!("python{version}")));
    let out = Command::new(&path).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    out.status.success().then_some((path, version))
}

/// The Python original's median, scaled to the workload's size if the script
/// measured a smaller one.
struct Python {
    median: Duration,
    measured_n: u64,
    full_n: u64,
}

impl Python {
    fn show(&self) -> String {
        if self.measured_n == self.full_n {
            show(self.median)
        } else {
            format!(
                "{} (×{} from n = {})",
                show(self.median),
                self.full_n / self.measured_n,
                self.measured_n
            )
        }
    }
}

fn run_python(interpreter: &Path, script: &str, n: u64, quick: bool) -> Python {
    let script = format!("{}/bench/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(interpreter);
    command.arg(&script);
    if quick {
        command.arg("--quick");
    }
    let out = command.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "{} {script} failed: {}",
        interpreter.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The script's last line: `median_s measured_n full_n`.
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let [median, measured_n, full_n] = fields[..] else {
        panic!("{script} printed {text:?}; expected `median_s measured_n full_n`");
    };
    let measured_n: u64 = measured_n.parse().expect("measured_n");
    let full_n: u64 = full_n.parse().expect("full_n");
    assert_eq!(full_n, n, "{script} measures another workload size");
    let median: f64 = median.parse().expect("median_s");
    Python {
        median: Duration::from_secs_f64(median * full_n as f64 / measured_n as f64),
        measured_n,
        full_n,
    }
}

fn memory_rows() {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let baseline = rss::measure("baseline", 3);
    for (what, fanout, hand) in [
        (
            "peak RSS, pool_map! over 10 000 000 u64",
            "pool-fanout",
            "pool-hand",
        ),
        (
            "peak RSS, gather! over 1 000 000 futures",
            "gather-fanout",
            "gather-hand",
        ),
    ] {
        let fanout = rss::measure(fanout, 3);
        let hand = rss::measure(hand, 3);
        let ratio = fanout as f64 / hand as f64;
        let verdict = if ratio <= 1.2 { "✓" } else { "✗" };
        println!(
            "| {what} | {:.1} MiB | {:.1} MiB | {ratio:.2} {verdict} (above baseline: {:.2}) | ≤ 1.20 | — | — | — | — |",
            mib(fanout),
            mib(hand),
            (fanout - baseline) as f64 / (hand - baseline) as f64,
        );
    }
    println!();
    println!(
        "baseline peak RSS of the benchmark process (thread pools started, no work): {:.1} MiB",
        mib(baseline)
    );
}

/// Peak RSS of 10 000 000 squares through `pool_map!(...; stream)` summed,
/// against the collecting form (target: at most a quarter of it), and Python
/// 3.13's `Pool.imap` summed.
fn stream_rss_row(args: &Args) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let stream = rss::measure("stream-fanout", 3);
    let collect = rss::measure("collect-fanout", 3);
    let ratio = stream as f64 / collect as f64;
    let verdict = if ratio <= 0.25 { "✓" } else { "✗" };
    let python = args
        .python
        .then(|| interpreter("3.13"))
        .flatten()
        .map_or_else(
            || "— | —".to_owned(),
            |(path, _)| {
                let kib = python_peak_kib(&path, "stream_rss.py");
                format!(
                    "{:.1} MiB (Pool.imap) | {:.1}× fanout's",
                    mib(kib),
                    kib as f64 / stream as f64
                )
            },
        );
    println!(
        "| peak RSS, pool_map!(stream) over 10 000 000 u64, summed (collecting form as hand-written) | {:.1} MiB | {:.1} MiB | {ratio:.2} | ≤ 0.25 {verdict} | — | — | {python} |",
        mib(stream),
        mib(collect),
    );
}

/// Runs a Python script that prints its peak RSS in KiB as its last line.
fn python_peak_kib(interpreter: &Path, script: &str) -> u64 {
    let script = format!("{}/bench/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(interpreter)
        .arg(&script)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("{script} should print its peak RSS in KiB"))
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores, {model}; load average {}", load.join(" "))
}
