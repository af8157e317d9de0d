//! `cargo bench --bench costs`: what each fanout backend costs per call, per
//! worker and per item, beside the floors of the operating system and Tokio
//! measured the same way, printed as a Markdown table (docs/performance.md,
//! "what each thing costs").
//!
//! Each cost comes from the lower quartile of 21 samples of one call:
//! `per item` is the slope between a small and a large call, `per worker` a
//! 2-worker call minus a 1-worker call, `per call` the rest of the small
//! 1-worker call. `--instructions` adds instruction counts of the calling
//! process (`valgrind --tool=callgrind`, children not traced; threads of the
//! process are counted), from the difference of 3 and 1 calls in a child.
//! Callgrind counts user-space instructions only: a system call (fork, a
//! pipe's read) counts as the few instructions that make it, not the kernel's
//! work, so the µs columns are the ones to compare with the floors.

use std::hint::black_box;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SAMPLES: usize = 21;

fn number(i: u64) -> u64 {
    black_box(i) * 2 + 1
}

fn square(i: u64) -> u64 {
    black_box(i) * black_box(i)
}

/// A fanout backend: one call of `workers` workers over `items` items.
struct Backend {
    name: &'static str,
    what: &'static str,
    small: u64,
    large: u64,
    /// Whether the call has a worker count (else each task is its own thread
    /// or process, or all share one task): `per worker` is then —.
    workers: bool,
    call: fn(workers: u64, items: u64),
}

fn backends() -> Vec<Backend> {
    vec![
        Backend {
            name: "threads",
            what: "spawn_threads! (per item: a thread)",
            small: 1,
            large: 33,
            workers: false,
            call: |_, n| {
                black_box(fanout::spawn_threads!(for i in 0..n => number(i)));
            },
        },
        Backend {
            name: "processes",
            what: "spawn_processes! (per item: a process)",
            small: 1,
            large: 9,
            workers: false,
            call: |_, n| {
                black_box(fanout::spawn_processes!(for i in 0..n => number(i)));
            },
        },
        Backend {
            name: "pool",
            what: "pool_map! (threads), cheap items",
            small: 8,
            large: 100_008,
            workers: true,
            call: |w, n| {
                black_box(fanout::pool_map!(square, 0..n; workers = w as usize));
            },
        },
        Backend {
            name: "process-pool",
            what: "pool_map!(processes), cheap items",
            small: 8,
            large: 100_008,
            workers: true,
            call: |w, n| {
                black_box(fanout::pool_map!(square, 0..n; processes, workers = w as usize));
            },
        },
        Backend {
            name: "gather",
            what: "gather! of ready futures (block_on)",
            small: 8,
            large: 10_008,
            workers: false,
            call: |_, n| {
                black_box(futures::executor::block_on(async {
                    fanout::gather!(for i in 0..n => async move { number(i) })
                }));
            },
        },
    ]
}

/// A floor: one operation, timed in batches of `batch`.
struct Floor {
    name: &'static str,
    what: &'static str,
    batch: u32,
    run: fn(),
}

fn floors() -> Vec<Floor> {
    vec![
        Floor {
            name: "thread",
            what: "thread create + join",
            batch: 10,
            run: || std::thread::spawn(|| number(1)).join().map(drop).unwrap(),
        },
        Floor {
            name: "fork",
            what: "fork + _exit + waitpid",
            batch: 2,
            run: fork_exit_wait,
        },
        Floor {
            name: "pipe",
            what: "pipe round trip to a child (8 bytes each way)",
            batch: 100,
            run: pipe_round_trip,
        },
        Floor {
            name: "tokio",
            what: "Tokio task spawn + await (in a block_on of a current-thread runtime)",
            batch: 100,
            run: || {
                tokio_runtime().block_on(async {
                    black_box(tokio::spawn(async { number(1) }).await.unwrap());
                })
            },
        },
    ]
}

fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fn fork_exit_wait() {
    // SAFETY: the child only `_exit`s; the parent reaps it.
    unsafe {
        match libc::fork() {
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            0 => libc::_exit(0),
            pid => {
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            }
        }
    }
}

/// A child, forked once, that echoes 8 bytes at a time back to the parent.
struct Echo {
    to_child: libc::c_int,
    from_child: libc::c_int,
}

fn pipe_round_trip() {
    static ECHO: OnceLock<Echo> = OnceLock::new();
    let echo = ECHO.get_or_init(|| {
        let (mut down, mut up) = ([0; 2], [0; 2]);
        // SAFETY: two arrays of two descriptors; the child only reads, writes
        // back and `_exit`s when the parent's end closes (at the parent's exit).
        unsafe {
            assert_eq!(libc::pipe(down.as_mut_ptr()), 0);
            assert_eq!(libc::pipe(up.as_mut_ptr()), 0);
            match libc::fork() {
                -1 => panic!("fork: {}", std::io::Error::last_os_error()),
                0 => {
                    // Only the parent's ends stay open: the child reads EOF
                    // when the parent exits.
                    libc::close(down[1]);
                    libc::close(up[0]);
                    let mut word = [0u8; 8];
                    while libc::read(down[0], word.as_mut_ptr().cast(), 8) == 8 {
                        libc::write(up[1], word.as_ptr().cast(), 8);
                    }
                    libc::_exit(0)
                }
                _ => {
                    libc::close(down[0]);
                    libc::close(up[1]);
                }
            }
        }
        Echo {
            to_child: down[1],
            from_child: up[0],
        }
    });
    let mut word = 7u64.to_ne_bytes();
    // SAFETY: 8-byte buffers and the pipes' open ends.
    unsafe {
        assert_eq!(libc::write(echo.to_child, word.as_ptr().cast(), 8), 8);
        assert_eq!(libc::read(echo.from_child, word.as_mut_ptr().cast(), 8), 8);
    }
    black_box(word);
}

/// The lower quartile of `SAMPLES` timings of `f` (after one warm-up run).
fn lower_quartile(mut f: impl FnMut() -> Duration) -> f64 {
    f();
    let mut samples: Vec<f64> = (0..SAMPLES).map(|_| f().as_secs_f64() * 1e6).collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 4]
}

fn time_call(backend: &Backend, workers: u64, items: u64) -> f64 {
    lower_quartile(|| {
        let start = Instant::now();
        (backend.call)(workers, items);
        start.elapsed()
    })
}

fn time_floor(floor: &Floor) -> f64 {
    lower_quartile(|| {
        let start = Instant::now();
        for _ in 0..floor.batch {
            (floor.run)();
        }
        start.elapsed() / floor.batch
    })
}

/// Costs in one unit (µs or instructions), from the three calls.
struct Costs {
    call: f64,
    worker: Option<f64>,
    item: f64,
}

fn split(backend: &Backend, measure: impl Fn(u64, u64) -> f64) -> Costs {
    let one_small = measure(1, backend.small);
    let one_large = measure(1, backend.large);
    let item = (one_large - one_small) / (backend.large - backend.small) as f64;
    let worker = backend
        .workers
        .then(|| measure(2, backend.small) - one_small);
    Costs {
        call: one_small - backend.small as f64 * item - worker.unwrap_or(0.0),
        worker,
        item,
    }
}

/// Instructions of one operation: this binary re-run under callgrind with
/// `--count`, 3 operations minus 1 (which also takes away start-up and the
/// first call's set-up), halved.
fn instructions(what: &[String]) -> f64 {
    let count = |repeats: u32| -> f64 {
        // One file per process (`%p`): a forked child of the measured
        // process writes its own when it ends, which must not replace the
        // parent's. The parent is the process valgrind runs as.
        let prefix = format!("fanout-costs-{}-{}", std::process::id(), repeats);
        let dir = std::env::temp_dir();
        let mut child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!(
                "--callgrind-out-file={}",
                dir.join(format!("{prefix}-%p.callgrind")).display()
            ))
            .arg(std::env::current_exe().expect("current_exe"))
            .arg("--count")
            .arg(repeats.to_string())
            .args(what)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("valgrind runs (apt-get install valgrind)");
        let status = child.wait().expect("valgrind's status");
        assert!(status.success(), "callgrind of {what:?} failed");
        let out_file = dir.join(format!("{prefix}-{}.callgrind", child.id()));
        let text = std::fs::read_to_string(&out_file).expect("callgrind's output");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{prefix}-"))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        text.lines()
            .find_map(|line| {
                line.strip_prefix("summary:")
                    .or(line.strip_prefix("totals:"))
            })
            .and_then(|n| n.trim().parse().ok())
            .expect("a summary line in callgrind's output")
    };
    (count(3) - count(1)) / 2.0
}

/// In a callgrind child: `--count REPEATS backend WORKERS ITEMS` or
/// `--count REPEATS floor NAME`.
fn count_child(args: &[String]) {
    let repeats: u32 = args[0].parse().expect("REPEATS");
    if args[1] == "floor" {
        let floor = floors()
            .into_iter()
            .find(|f| f.name == args[2])
            .expect("a floor's name");
        for _ in 0..repeats {
            (floor.run)();
        }
    } else {
        let backend = backends()
            .into_iter()
            .find(|b| b.name == args[1])
            .expect("a backend's name");
        let (workers, items) = (args[2].parse().unwrap(), args[3].parse().unwrap());
        for _ in 0..repeats {
            (backend.call)(workers, items);
        }
    }
}

fn show(costs: Option<f64>, unit_digits: usize) -> String {
    costs.map_or_else(|| "—".into(), |c| format!("{c:.unit_digits$}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--count") {
        count_child(&args[at + 1..]);
        return;
    }
    let with_instructions = args.iter().any(|a| a == "--instructions");
    println!("what each thing costs: lower quartile of {SAMPLES} samples; 2 shared cores, noisy");
    println!();
    if with_instructions {
        println!(
            "| backend | per call (µs) | per worker (µs) | per item (µs) | per call (instr.) | per worker (instr.) | per item (instr.) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
    } else {
        println!("| backend | per call (µs) | per worker (µs) | per item (µs) |");
        println!("|---|---:|---:|---:|");
    }
    for backend in backends() {
        let micros = split(&backend, |w, n| time_call(&backend, w, n));
        let mut row = format!(
            "| {} | {} | {} | {} |",
            backend.what,
            show(Some(micros.call), 1),
            show(micros.worker, 1),
            show(Some(micros.item), 3),
        );
        if with_instructions {
            let counts = split(&backend, |w, n| {
                instructions(&[backend.name.into(), w.to_string(), n.to_string()])
            });
            row += &format!(
                " {} | {} | {} |",
                show(Some(counts.call), 0),
                show(counts.worker, 0),
                show(Some(counts.item), 1),
            );
        }
        println!("{row}");
    }
    println!();
    if with_instructions {
        println!("| floor | µs | instructions |");
        println!("|---|---:|---:|");
    } else {
        println!("| floor | µs |");
        println!("|---|---:|");
    }
    for floor in floors() {
        let mut row = format!("| {} | {:.2} |", floor.what, time_floor(&floor));
        if with_instructions {
            row += &format!(
                " {:.0} |",
                instructions(&["floor".into(), floor.name.into()])
            );
        }
        println!("{row}");
    }
}
