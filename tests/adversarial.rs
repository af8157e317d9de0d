//! Adversarial checks of two changes: a process alone at the probe keeps
//! the fork lock, the panic gate and the stdio locks held across a
//! `spawn_processes!(for ..)` loop (runtime/src/sys.rs `Forks`), and pool
//! workers answer numbers and bools as 9-byte NUMBER frames
//! (runtime/src/map/processes.rs `parse_numbers`).
//!
//! The loop scenarios run in a copy of this binary (`--nocapture`, so that
//! printing takes the real stdio locks), inside a forked child: a forked
//! child is single-threaded, so it is "alone" at the probe. Each copy runs
//! in a process group of its own, is killed if it outlives its limit (a
//! hang), and must leave no process of its group behind (an orphan).
//!
//! What they found, each fixed and kept as a test: a fork that waited
//! twice for a slow panic report (and released the fork lock between a
//! child's pipe and its fork); the first group waiting without bound for a
//! panic hook running on another thread; children that ended before the
//! deadline reported as timed out because the parent was slow to fork the
//! rest.
#![cfg(all(unix, target_os = "linux"))]

use std::os::unix::process::CommandExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fanout::{ErrorKind, pool_map, spawn_processes};

mod rings;
use rings::{RING_CAPACITY, my_ring, push, rings};

// ---------------------------------------------------------------- harness

/// What a copy of this binary did.
struct Run {
    code: Option<i32>,
    hung: bool,
    orphans: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "code {:?}, hung {}, orphans {}, took {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.hung,
            self.orphans,
            self.took,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }

    fn count(&self, what: &str) -> usize {
        self.stdout.matches(what).count()
    }
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(6000);
    let mut start = start;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Whether this process is the copy that runs scenario `name`.
fn scenario(name: &str) -> bool {
    std::env::var("FANOUT_ADV_SCENARIO").as_deref() == Ok(name)
}

/// Runs the test `name` (a scenario) in a copy of this binary, in a process
/// group of its own, with `env`; kills the group after `limit`.
fn run(name: &str, env: &[(&str, &str)], limit: Duration) -> Run {
    let dir = std::env::temp_dir();
    let tag = format!("fanout-adv-{}-{name}", std::process::id());
    let out_path = dir.join(format!("{tag}.out"));
    let err_path = dir.join(format!("{tag}.err"));
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("FANOUT_ADV_SCENARIO", name)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0);
    for (key, value) in env {
        command.env(key, value);
    }
    let start = Instant::now();
    let mut child = command.spawn().unwrap();
    let group = child.id() as i32;
    let mut hung = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            hung = true;
            // SAFETY: signals the process group we made.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    // Anything of the group still there once the copy ended is an orphan
    // (given a moment to be reaped by its own parent).
    let mut orphans = false;
    for _ in 0..50 {
        // SAFETY: signal 0 only asks whether the group has a process.
        orphans = unsafe { libc::kill(-group, 0) } == 0;
        if !orphans {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if orphans {
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Run {
        code: status.code(),
        hung,
        orphans,
        stdout,
        stderr,
        took,
    }
}

/// The scenario exited with 0, did not hang and left no process behind.
#[track_caller]
fn assert_clean(run: &Run) {
    assert!(
        run.code == Some(0) && !run.hung && !run.orphans,
        "{}",
        run.text()
    );
}

/// The line a scenario printed after `REPORT ` (the harness may print
/// `test NAME ... ` before it on the same line).
fn report_of(run: &Run) -> String {
    run.stdout
        .find("REPORT ")
        .map(|at| run.stdout[at + 7..].to_owned())
        .unwrap_or_default()
}

/// Outcomes with their errors as text.
fn show<T>(outcomes: Vec<Result<T, fanout::Error>>) -> Vec<Result<T, String>> {
    outcomes
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// The message of a panic payload.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    fanout::__private::panic_message(payload)
}

/// The children of this process (from /proc), with their state.
fn children_of_this_process() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            let state = fields[0].chars().next().unwrap_or('?');
            children.push((pid, state));
        }
    }
    children
}

/// Runs `f` on a thread of its own and waits at most `limit` for it:
/// whether it finished (a thread that prints hangs if a stdio lock stayed
/// held).
fn finishes_within(limit: Duration, f: impl FnOnce() + Send + 'static) -> bool {
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    wait.recv_timeout(limit).is_ok()
}

// ---------------------------------------------------------------- loop scenarios

/// An item whose destructor panics for item 2 (in the parent only: a child
/// never drops its copy of an item twice, and this one is dropped unwinding).
struct Bomb(u32, u32);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 == 2 && std::process::id() == self.1 && !std::thread::panicking() {
            panic!("bomb {} went off in the parent", self.0);
        }
    }
}

#[test]
fn s_drop_panics() {
    if !scenario("s_drop_panics") {
        return;
    }
    let report = spawn_processes!(|| {
        let me = std::process::id();
        let items: Vec<Bomb> = (0..6).map(|k| Bomb(k, me)).collect();
        let start = Instant::now();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            spawn_processes!(for b in items => {
                if b.0 < 2 {
                    std::thread::sleep(Duration::from_secs(10));
                }
                b.0
            }; timeout = Duration::from_secs(20))
        }));
        let took = start.elapsed();
        let text = match &caught {
            Ok(out) => format!("no panic: {out:?}"),
            Err(payload) => message(&**payload),
        };
        let left = children_of_this_process();
        let printed = finishes_within(Duration::from_secs(3), || {
            println!("a thread prints after the loop");
            eprintln!("and writes to stderr after the loop");
        });
        let again = spawn_processes!(for i in 0..3u32 => {
            println!("again {i}");
            i
        }; timeout = Duration::from_secs(5));
        format!("panic: {text}; took {took:?}; left {left:?}; printed {printed}; again {again:?}")
    }; timeout = Duration::from_secs(40));
    println!("REPORT {report}");
}

#[test]
fn an_items_destructor_that_panics_mid_loop_carries_its_panic_and_leaves_every_lock_free() {
    let run = run("s_drop_panics", &[], Duration::from_secs(60));
    assert_clean(&run);
    let report = run
        .stdout
        .lines()
        .find(|l| l.starts_with("REPORT "))
        .unwrap_or_default();
    assert!(report.contains("bomb 2 went off in the parent"), "{report}");
    assert!(report.contains("left []"), "{report}");
    assert!(report.contains("printed true"), "{report}");
    assert!(report.contains("again [0, 1, 2]"), "{report}");
    for i in 0..3 {
        assert_eq!(run.count(&format!("again {i}\n")), 1, "{}", run.text());
    }
}

/// An item whose destructor, in the parent, starts a thread that prints
/// (both streams) for a while, and prints itself.
struct Chatty(u32, u32);

impl Drop for Chatty {
    fn drop(&mut self) {
        if std::process::id() != self.1 {
            return;
        }
        println!("parent drops item {}", self.0);
        if self.0 == 0 {
            std::thread::spawn(|| {
                for n in 0..3000 {
                    println!("background {n}");
                    eprint!("e");
                    if n % 100 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            });
        }
    }
}

#[test]
fn s_drop_starts_a_printing_thread() {
    if !scenario("s_drop_starts_a_printing_thread") {
        return;
    }
    let out = spawn_processes!(|| {
        let me = std::process::id();
        let items: Vec<Chatty> = (0..40).map(|k| Chatty(k, me)).collect();
        spawn_processes!(for item in items => {
            let t = fanout::spawn_threads!(|| {
                println!("thread of child {}", item.0);
                eprintln!("thread of child {} (stderr)", item.0);
                1u32
            });
            println!("child {}", item.0);
            item.0 + t
        }; timeout = Duration::from_secs(15), catch)
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect::<Vec<_>>()
    }; timeout = Duration::from_secs(40));
    println!("REPORT {out:?}");
}

#[test]
fn a_thread_started_mid_loop_by_a_destructor_prints_without_hanging_the_children() {
    let run = run(
        "s_drop_starts_a_printing_thread",
        &[],
        Duration::from_secs(60),
    );
    assert_clean(&run);
    let expected: Vec<Result<u32, String>> = (0..40).map(|k| Ok(k + 1)).collect();
    assert!(
        run.stdout.contains(&format!("REPORT {expected:?}")),
        "{}",
        run.text()
    );
    for k in 0..40 {
        assert_eq!(run.count(&format!("\nchild {k}\n")), 1, "{}", run.text());
        assert_eq!(
            run.count(&format!("thread of child {k}\n")),
            1,
            "{}",
            run.text()
        );
    }
}

#[test]
fn s_caller_holds_stdout() {
    if !scenario("s_caller_holds_stdout") {
        return;
    }
    let out = spawn_processes!(|| {
        let held = std::io::stdout().lock();
        let out = spawn_processes!(for i in 0..3u32 => {
            println!("main thread of child {i}");
            i
        }; timeout = Duration::from_secs(10), catch);
        drop(held);
        println!("the caller prints again");
        out.into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect::<Vec<_>>()
    }; timeout = Duration::from_secs(30));
    println!("REPORT {out:?}");
}

#[test]
fn s_tokio_current_thread() {
    if !scenario("s_tokio_current_thread") {
        return;
    }
    let out = spawn_processes!(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let alone = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l == "Threads:\t1");
        let out = rt.block_on(async {
            spawn_processes!(for i in 0..5u32 => {
                println!("tokio child {i}");
                eprintln!("tokio child {i} (stderr)");
                let inner = fanout::run(async move { i * 10 });
                inner + 1
            }; timeout = Duration::from_secs(10), catch)
        });
        (
            alone,
            out.into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Vec<_>>(),
        )
    }; timeout = Duration::from_secs(30));
    println!("REPORT {out:?}");
}

#[test]
fn a_process_alone_keeps_printing_with_the_tokio_current_thread_runtime() {
    let run = run("s_tokio_current_thread", &[], Duration::from_secs(60));
    assert_clean(&run);
    assert!(
        report_of(&run).starts_with("(true, [Ok(1), Ok(11), Ok(21), Ok(31), Ok(41)])"),
        "{}",
        run.text()
    );
    for i in 0..5 {
        assert_eq!(
            run.count(&format!("tokio child {i}\n")),
            1,
            "{}",
            run.text()
        );
    }
}

/// A single-threaded program that holds `stdout().lock()` (a common idiom
/// for fast output) and runs a loop: each child inherits the hold, owned by
/// its main thread (the copy of the forking thread), which can print; so
/// can the caller once it lets go. (A thread of such a child cannot print:
/// the documented limit, see the module documentation of `sys`.)
#[test]
fn a_single_threaded_caller_holding_stdout_gets_children_that_print_from_their_main_thread() {
    let run = run("s_caller_holds_stdout", &[], Duration::from_secs(60));
    assert_clean(&run);
    assert!(
        report_of(&run).starts_with("[Ok(0), Ok(1), Ok(2)]"),
        "{}",
        run.text()
    );
    for i in 0..3 {
        assert_eq!(
            run.count(&format!("main thread of child {i}\n")),
            1,
            "{}",
            run.text()
        );
    }
    assert_eq!(run.count("the caller prints again\n"), 1, "{}", run.text());
}

/// Limits this process's user to `n` processes (soft limit), after taking
/// the user `nobody` (root is not held to RLIMIT_NPROC).
fn limit_processes(n: u64) {
    // SAFETY: plain system calls on this process.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NPROC, &mut limit);
        limit.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NPROC, &limit), 0, "setrlimit");
        assert_eq!(libc::setgid(65534), 0, "setgid");
        assert_eq!(libc::setuid(65534), 0, "setuid");
    }
}

fn unlimit_processes() {
    // SAFETY: raises the soft limit up to the hard one.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NPROC, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NPROC, &limit);
    }
}

#[test]
fn s_fork_fails_mid_loop() {
    if !scenario("s_fork_fails_mid_loop") {
        return;
    }
    let out = spawn_processes!(|| {
        // This process and 3 children.
        limit_processes(4);
        let items: Vec<String> = (0..8).map(|k| format!("item {k}")).collect();
        let plain = spawn_processes!(for i in 0..8u32 => {
            println!("plain child {i}");
            i
        }; name = String::from("plain"), timeout = Duration::from_secs(10), catch);
        let owned = spawn_processes!(for s in items => {
            println!("owned child {s}");
            s.len()
        }; timeout = Duration::from_secs(10), catch);
        let printed = finishes_within(Duration::from_secs(3), || {
            println!("a thread prints after the failed forks");
            eprintln!("and to stderr");
        });
        unlimit_processes();
        let again = spawn_processes!(for i in 0..3u32 => { i }; timeout = Duration::from_secs(5));
        format!(
            "plain {:?}\nowned {:?}\nprinted {printed} again {again:?} left {:?}",
            show(plain),
            show(owned),
            children_of_this_process()
        )
    }; timeout = Duration::from_secs(40));
    println!("REPORT {out}");
}

/// Leaves this process `free` descriptors above the ones it has open.
fn limit_descriptors(free: u64) {
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    // SAFETY: lowers this process's soft limit on descriptors.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        // The directory read above held one more.
        limit.rlim_cur = open + free;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[test]
fn s_pipe_fails_mid_loop() {
    if !scenario("s_pipe_fails_mid_loop") {
        return;
    }
    let out = spawn_processes!(|| {
        // Room for the pipes of about three children (each keeps its read end).
        limit_descriptors(6);
        let plain = spawn_processes!(for i in 0..8u32 => {
            println!("plain child {i}");
            i
        }; timeout = Duration::from_secs(10), catch);
        let printed = finishes_within(Duration::from_secs(3), || {
            println!("a thread prints after the failed pipes");
        });
        format!(
            "plain {:?} printed {printed} left {:?}",
            show(plain),
            children_of_this_process()
        )
    }; timeout = Duration::from_secs(40));
    println!("REPORT {out}");
}

#[test]
fn forks_that_fail_mid_loop_fail_their_items_alone_and_leave_every_lock_free() {
    let run = run("s_fork_fails_mid_loop", &[], Duration::from_secs(60));
    assert_clean(&run);
    let report = report_of(&run);
    let spawn_error = |name: &str| {
        format!(
            "Err(\"worker `{name}` could not be started: Resource temporarily unavailable (os error 11)\")"
        )
    };
    let plain: Vec<String> = (0..3)
        .map(|i| format!("Ok({i})"))
        .chain((3..8).map(|i| spawn_error(&format!("plain-{i}"))))
        .collect();
    assert!(
        report.contains(&format!("plain [{}]", plain.join(", "))),
        "{report}"
    );
    let owned: Vec<String> = (0..3)
        .map(|_| "Ok(6)".to_owned())
        .chain((3..8).map(|i| spawn_error(&format!("task-{i}"))))
        .collect();
    assert!(
        report.contains(&format!("owned [{}]", owned.join(", "))),
        "{report}"
    );
    assert!(
        report.contains("printed true again [0, 1, 2] left []"),
        "{report}"
    );
    for i in 0..3 {
        assert_eq!(
            run.count(&format!("plain child {i}\n")),
            1,
            "{}",
            run.text()
        );
    }
}

#[test]
fn pipes_that_fail_mid_loop_fail_their_items_alone_and_leave_every_lock_free() {
    let run = run("s_pipe_fails_mid_loop", &[], Duration::from_secs(60));
    assert_clean(&run);
    let report = report_of(&run);
    assert!(report.contains("Too many open files"), "{report}");
    assert!(report.contains("printed true left []"), "{report}");
    assert!(report.starts_with("plain [Ok(0), Ok(1), Ok(2)"), "{report}");
}

/// The longest a panic on the background thread of `s_backtrace_thread`
/// took to be reported, in microseconds, and how many it reported.
static LONGEST_REPORT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static REPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static STOP_REPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static REPORT_TIMES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// An item whose destructor (item 0, in the parent) starts a thread that
/// panics every few milliseconds, timing each report.
struct Reporter(u32, u32);

impl Drop for Reporter {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        if self.0 != 0 || std::process::id() != self.1 {
            return;
        }
        std::thread::spawn(|| {
            let mut n = 0u32;
            while !STOP_REPORTING.load(Ordering::Relaxed) {
                let took = report_once(n);
                LONGEST_REPORT.fetch_max(took, Ordering::Relaxed);
                REPORT_TIMES.lock().unwrap().push(took / 1000);
                REPORTS.fetch_add(1, Ordering::Relaxed);
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }
}

/// Panics once, caught, and says how long the report took (µs).
fn report_once(n: u32) -> u64 {
    let start = Instant::now();
    let _ = catch_unwind(|| panic!("background panic {n}"));
    start.elapsed().as_micros() as u64
}

#[test]
fn s_backtrace_thread() {
    if !scenario("s_backtrace_thread") {
        return;
    }
    let out = spawn_processes!(|| {
        use std::sync::atomic::Ordering;
        // A large parent: each fork copies its page tables, so the loop
        // takes a while.
        let ballast: Vec<u8> = vec![1u8; 512 << 20];
        // The first backtrace of a process reads its debug information
        // (over a second in a debug build under load), longer than a fork
        // waits for a report (the gate's patience): done once before the
        // loop, on a thread that has ended when the loop starts.
        std::thread::spawn(|| report_once(u32::MAX)).join().unwrap();
        let me = std::process::id();
        let items: Vec<Reporter> = (0..150).map(|k| Reporter(k, me)).collect();
        let start = Instant::now();
        let out = spawn_processes!(for r in items => {
            if r.0 % 2 == 1 {
                panic!("child {} panics", r.0);
            }
            r.0
        }; timeout = Duration::from_secs(30), catch);
        let took = start.elapsed();
        STOP_REPORTING.store(true, Ordering::Relaxed);
        let timed_out: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_ref().is_err_and(|e| e.is_timeout()))
            .map(|(k, _)| k)
            .collect();
        let wrong: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(k, r)| match r {
                Ok(v) => *v as usize != *k || k % 2 == 1,
                Err(e) => k % 2 == 0 || !matches!(e.kind(), ErrorKind::Panic(_)),
            })
            .map(|(k, _)| k)
            .collect();
        drop(ballast);
        std::thread::sleep(Duration::from_millis(300));
        format!(
            "loop took {took:?}; reports {}; longest report {} us; timed out {timed_out:?}; wrong {wrong:?}; times ms {:?}",
            REPORTS.load(Ordering::Relaxed),
            LONGEST_REPORT.load(Ordering::Relaxed),
            REPORT_TIMES.lock().unwrap(),
        )
    }; timeout = Duration::from_secs(60));
    println!("REPORT {out}");
}

#[test]
fn s_loop_options() {
    if !scenario("s_loop_options") {
        return;
    }
    let out = spawn_processes!(|| {
        let name = format!("dyn-é-{}", 7);
        let mut lines = Vec::new();
        let a = spawn_processes!(for _i in 0..5u32 => {
            fanout::current_name().unwrap()
        }; name = name.clone(), timeline, progress);
        lines.push(format!("names {a:?}"));
        let b = spawn_processes!(for i in 0..5u32 => {
            if i == 3 { panic!("three") }
            if i == 1 { std::thread::sleep(Duration::from_secs(20)) }
            i
        }; name = name.as_str(), catch, timeout = Duration::from_millis(500));
        lines.push(format!("catch {:?}", show(b)));
        let c: Result<Vec<u32>, String> = spawn_processes!(for i in 0..5u32 => {
            if i == 2 { Err(format!("no {i}")) } else { Ok(i) }
        }; try);
        lines.push(format!("try {c:?}"));
        let d = spawn_processes!(for i in 0..4u64 => {
            std::thread::sleep(Duration::from_millis(if i == 2 { 0 } else { 3000 }));
            i
        }; race);
        lines.push(format!("race {d:?}"));
        let nested = spawn_processes!(for i in 0..3u32 => {
            let inner = spawn_processes!(for j in 0..3u32 => {
                println!("grandchild {i}.{j}");
                let deeper = spawn_processes!(for k in 0..2u32 => { k }; name = format!("g{i}{j}"));
                i * 100 + j * 10 + deeper.iter().sum::<u32>()
            }; name = format!("inner{i}"));
            inner
        }; timeout = Duration::from_secs(20));
        lines.push(format!("nested {nested:?}"));
        let prints = spawn_processes!(for i in 0..10u32 => {
            // 2 001 bytes in one write(2), below PIPE_BUF, so that the lines
            // of children printing at once cannot interleave in the pipe
            // (`println!` would write a line longer than stdout's buffer
            // and its newline apart).
            use std::io::Write as _;
            let line = format!("{}\n", format!("{i} ").repeat(1_000));
            std::io::stdout().write_all(line.as_bytes()).unwrap();
            std::io::stderr().write_all(line.as_bytes()).unwrap();
            i
        }; timeout = Duration::from_secs(20));
        lines.push(format!("prints {prints:?}"));
        lines.push(format!("left {:?}", children_of_this_process()));
        lines.join("\n")
    }; timeout = Duration::from_secs(60));
    println!("REPORT {out}");
}

/// A thread started mid-loop (by an item's destructor) panics again and
/// again under `RUST_BACKTRACE=1` while the loop forks children that panic
/// too: no child inherits a lock held by a report (each child's own report
/// would hang until the timeout), and nothing hangs.
#[test]
fn panics_on_a_thread_started_mid_loop_do_not_hang_the_childrens_reports() {
    let run = run(
        "s_backtrace_thread",
        &[("RUST_BACKTRACE", "1")],
        Duration::from_secs(90),
    );
    assert_clean(&run);
    let report = report_of(&run);
    assert!(report.contains("timed out []; wrong []"), "{report}");
}

#[test]
fn loop_options_names_and_nesting_in_a_process_alone_come_back_exact() {
    let run = run("s_loop_options", &[], Duration::from_secs(90));
    assert_clean(&run);
    let report = report_of(&run);
    for line in [
        "names [\"dyn-é-7-0\", \"dyn-é-7-1\", \"dyn-é-7-2\", \"dyn-é-7-3\", \"dyn-é-7-4\"]",
        "try Err(\"no 2\")",
        "race 2",
        "nested [[1, 11, 21], [101, 111, 121], [201, 211, 221]]",
        "prints [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        "left []",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
    assert!(
        report.contains("catch [Ok(0), Err(\"worker `dyn-é-7-1`"),
        "{report}"
    );
    assert!(
        report.contains("timed out after 500ms\"), Ok(2), Err(\"worker `dyn-é-7-3`"),
        "{report}"
    );
    assert!(report.contains("panicked: three\"), Ok(4)]"), "{report}");
    assert!(
        run.stderr.contains("timeline of spawn_processes!"),
        "{}",
        run.text()
    );
    for i in 0..3 {
        for j in 0..3 {
            assert_eq!(
                run.count(&format!("grandchild {i}.{j}\n")),
                1,
                "{}",
                run.text()
            );
        }
    }
    for i in 0..10 {
        let line = format!("{i} ").repeat(1_000);
        assert_eq!(run.count(&format!("{line}\n")), 1, "child {i}");
    }
}

// ---------------------------------------------------------------- the panic gate

/// Installs, before fanout's first group in this process (so that fanout's
/// panic gate wraps it), a hook that takes `slow` for a panic whose message
/// starts with "slow", and otherwise runs `inner` (if any).
fn set_slow_hook(slow: Duration) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.payload_as_str().unwrap_or("");
        if text.starts_with("slow") {
            // A crash reporter, say: it writes a dump, then reports.
            std::thread::sleep(slow);
            eprintln!("slow report done: {text}");
        } else if text.starts_with("diagnose") {
            // A hook that forks to collect diagnostics.
            let start = Instant::now();
            let out =
                spawn_processes!(for i in 0..2u32 => { i }; timeout = Duration::from_secs(30));
            println!("HOOK-LOOP {out:?} in {:?}", start.elapsed());
        } else {
            default(info);
        }
    }));
}

#[test]
fn s_slow_report_elsewhere() {
    if !scenario("s_slow_report_elsewhere") {
        return;
    }
    set_slow_hook(Duration::from_secs(20));
    // fanout's first group wraps the hook with its panic gate.
    assert_eq!(spawn_processes!(|| 0u32), 0);
    std::thread::spawn(|| {
        let _ = catch_unwind(|| panic!("slow: a report that takes 20 s"));
    });
    // The report is under way.
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let one = spawn_processes!(|| 1u32);
    let single = start.elapsed();
    let start = Instant::now();
    let two = spawn_processes!(for i in 0..2u32 => { i });
    let looped = start.elapsed();
    println!("REPORT one {one} in {single:?}; loop {two:?} in {looped:?}");
    // SAFETY: ends the copy without waiting for the 20 s report.
    unsafe { libc::_exit(0) };
}

/// `GATE_PATIENCE` is "the most a fork waits for panic reports in
/// progress" (runtime/src/sys.rs). A fork now waits for it twice: once in
/// `Forks::hold` (before the pipe is made) and again in `fork_with`, whose
/// `take_held` sees the report still running, drops what `hold` took (the
/// fork lock included, with the child's pipe ends open) and closes the gate
/// anew. With a report that outlasts the patience (a slow hook, or
/// `RUST_BACKTRACE=full` symbolizing a large binary), each fork costs 2 s
/// instead of 1 s.
#[test]
fn a_fork_waits_for_a_slow_panic_report_at_most_the_gates_patience_once() {
    let run = run("s_slow_report_elsewhere", &[], Duration::from_secs(60));
    assert!(run.code == Some(0) && !run.hung, "{}", run.text());
    let report = run
        .stdout
        .find("REPORT")
        .map(|at| run.stdout[at..].lines().next().unwrap_or_default())
        .unwrap_or_default();
    let seconds = |label: &str| -> f64 {
        let at = report.find(label).expect(label) + label.len();
        let text = &report[at..];
        let end = text.find(';').unwrap_or(text.len());
        let text = text[..end].trim();
        if let Some(ms) = text.strip_suffix("ms") {
            ms.parse::<f64>().unwrap() / 1000.0
        } else {
            text.trim_end_matches('s').parse::<f64>().unwrap()
        }
    };
    let single = seconds("one 1 in ");
    let looped = seconds("loop [0, 1] in ");
    // One fork: at most one patience (1 s), with room for a slow machine.
    assert!(single < 1.6, "one fork took {single} s: {report}");
    // Two forks: at most two.
    assert!(looped < 2.6, "two forks took {looped} s: {report}");
}

#[test]
fn s_loop_in_a_panic_hook() {
    if !scenario("s_loop_in_a_panic_hook") {
        return;
    }
    set_slow_hook(Duration::ZERO);
    let out = spawn_processes!(|| {
        let start = Instant::now();
        let _ = catch_unwind(|| panic!("diagnose"));
        start.elapsed()
    }; timeout = Duration::from_secs(50));
    println!("REPORT hook took {out:?}");
}

/// A single-threaded program whose panic hook forks (to collect
/// diagnostics, say): its report is in progress while it forks. Each fork
/// of its loop waits for its own report for the gate's patience, and now
/// twice per fork (`hold`, then `fork_with`), where it waited once.
#[test]
fn a_loop_in_a_panic_hook_waits_the_gates_patience_at_most_once_per_fork() {
    let run = run("s_loop_in_a_panic_hook", &[], Duration::from_secs(60));
    assert!(run.code == Some(0) && !run.hung, "{}", run.text());
    assert!(run.stdout.contains("HOOK-LOOP [0, 1]"), "{}", run.text());
    let report = run
        .stdout
        .find("REPORT hook took ")
        .map(|at| run.stdout[at + 17..].lines().next().unwrap_or_default())
        .unwrap_or_default();
    let took = report
        .trim_end_matches('s')
        .parse::<f64>()
        .unwrap_or(f64::MAX);
    assert!(took < 2.6, "the hook's loop of 2 forks took {report}");
}

// ---------------------------------------------------------------- pool NUMBER frames

/// The tests that forge answers write into every answer ring the worker has
/// mapped (a forked worker maps the rings of the workers forked before it):
/// no other pool of this binary runs meanwhile.
static POOLS_ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn pools_alone() -> std::sync::MutexGuard<'static, ()> {
    POOLS_ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

const NUMBER: u8 = 5;

/// A NUMBER frame: the tag and 64 bits.
fn number_frame(bits: u64) -> Vec<u8> {
    let mut frame = vec![NUMBER];
    frame.extend_from_slice(&bits.to_le_bytes());
    frame
}

/// In the worker of a one-worker pool whose earlier items each answered
/// with a NUMBER frame (9 bytes): publishes `frame` as the answer of item
/// `k`, then waits to be killed.
fn forge_for_item(k: u64, frame: &[u8]) -> ! {
    let ring = my_ring(9 * k).expect("no ring of this worker");
    // SAFETY: the ring is this worker's.
    unsafe { push(ring, frame) };
    std::thread::sleep(Duration::from_secs(30));
    // SAFETY: leaves without answering.
    unsafe { libc::_exit(0) }
}

fn no_output_of_the_map(outcome: &Result<impl std::fmt::Debug, fanout::Error>, name: &str) {
    let failure = outcome.as_ref().unwrap_err();
    let text = failure.to_string();
    assert!(text.contains("no output of the map"), "{text}");
    assert!(
        text.contains(&format!("`{name}`")),
        "names the item: {text}"
    );
    assert!(!failure.is_timeout(), "{text}");
}

#[test]
fn forged_numbers_outside_bool_i8_and_u16_fail_their_item_alone() {
    let _alone = pools_alone();
    let out = pool_map!(|k: u64| -> bool {
        if k == 1 {
            forge_for_item(1, &number_frame(2));
        }
        k.is_multiple_of(2)
    }, 0..3u64; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
    assert_eq!(out[0].as_ref().ok(), Some(&true));
    no_output_of_the_map(&out[1], "task-1");
    assert_eq!(out[2].as_ref().ok(), Some(&true));

    for forged in [200u64, (-129i64) as u64, 1 << 40] {
        let out = pool_map!(|k: u64| -> i8 {
            if k == 1 {
                forge_for_item(1, &number_frame(forged));
            }
            -(k as i8)
        }, 0..3u64; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
        assert_eq!(out[0].as_ref().ok(), Some(&0), "{forged:#x}");
        no_output_of_the_map(&out[1], "task-1");
        assert_eq!(out[2].as_ref().ok(), Some(&-2), "{forged:#x}");
    }

    let out = pool_map!(|k: u64| -> u16 {
        if k == 1 {
            forge_for_item(1, &number_frame(70_000));
        }
        k as u16 + 60_000
    }, 0..3u64; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
    assert_eq!(out[0].as_ref().ok(), Some(&60_000));
    no_output_of_the_map(&out[1], "task-1");
    assert_eq!(out[2].as_ref().ok(), Some(&60_002));
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[test]
fn a_number_frame_where_a_string_or_a_struct_is_expected_fails_its_item_alone() {
    let _alone = pools_alone();
    let out = pool_map!(|k: u64| -> String {
        if k == 1 {
            // Item 0's answer: a frame header (9 bytes), the tag and "0".
            let ring = my_ring(9 + 2).expect("no ring of this worker");
            // SAFETY: the ring is this worker's.
            unsafe { push(ring, &number_frame(0x4141)) };
            std::thread::sleep(Duration::from_secs(30));
        }
        k.to_string()
    }, 0..3u64; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
    assert_eq!(out[0].as_deref().ok(), Some("0"));
    no_output_of_the_map(&out[1], "task-1");
    assert_eq!(out[2].as_deref().ok(), Some("2"));

    let start = Instant::now();
    let out = pool_map!(|k: i32| -> Point {
        if k == 0 {
            for ring in rings() {
                // SAFETY: a ring of this worker, written before any answer.
                unsafe {
                    if ring.read_volatile() == 0 {
                        push(ring, &number_frame(7));
                    }
                }
            }
            std::thread::sleep(Duration::from_secs(30));
        }
        Point { x: k, y: -k }
    }, 0..3i32; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
    no_output_of_the_map(&out[0], "task-0");
    assert_eq!(out[1].as_ref().ok(), Some(&Point { x: 1, y: -1 }));
    assert_eq!(out[2].as_ref().ok(), Some(&Point { x: 2, y: -2 }));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_forged_number_in_the_middle_of_a_run_fails_that_item_and_the_rest_come_back_exact() {
    let _alone = pools_alone();
    for bad in [3u64, 0, 7] {
        let out = pool_map!(|k: u64| -> u8 {
            if k == bad {
                forge_for_item(k, &number_frame(256));
            }
            k as u8 * 3
        }, 0..16u64; processes, catch, workers = 1, chunksize = 8, timeout = Duration::from_secs(20));
        for (k, outcome) in out.iter().enumerate() {
            if k as u64 == bad {
                no_output_of_the_map(outcome, &format!("task-{k}"));
            } else {
                assert_eq!(
                    outcome.as_ref().ok(),
                    Some(&(k as u8 * 3)),
                    "bad {bad}, item {k}: {out:?}"
                );
            }
        }
    }
}

/// Item `WRAP` of a one-worker pool of `u8`s: its frame is the first to
/// cross the end of the 1 MiB ring (9-byte frames: 116 508 fit before it).
const WRAP: u64 = RING_CAPACITY / 9;

#[test]
fn number_frames_split_at_the_rings_wrap_are_read_whole() {
    let _alone = pools_alone();
    const { assert!(9 * WRAP < RING_CAPACITY && 9 * (WRAP + 1) > RING_CAPACITY) };
    let n = WRAP + 1000;
    // A forged frame that crosses the wrap and is no u8: refused.
    let out = pool_map!(|k: u64| -> u8 {
        if k == WRAP {
            forge_for_item(k, &number_frame(300));
        }
        (k % 251) as u8
    }, 0..n; processes, catch, workers = 1, timeout = Duration::from_secs(60));
    for (k, outcome) in out.iter().enumerate() {
        if k as u64 == WRAP {
            no_output_of_the_map(outcome, &format!("task-{k}"));
        } else {
            assert_eq!(outcome.as_ref().ok(), Some(&((k % 251) as u8)), "item {k}");
        }
    }
    // A valid one that crosses the wrap, sent by a worker that then dies
    // without answering: it counts, as the item's answer, and the rest run
    // on the replacement.
    let out = pool_map!(|k: u64| -> u8 {
        if k == WRAP {
            let ring = my_ring(9 * k).expect("no ring of this worker");
            // SAFETY: the ring is this worker's.
            unsafe { push(ring, &number_frame(250)) };
            // SAFETY: leaves without answering.
            unsafe { libc::_exit(0) }
        }
        (k % 250) as u8
    }, 0..n; processes, catch, workers = 1, timeout = Duration::from_secs(60));
    for (k, outcome) in out.iter().enumerate() {
        let expected = if k as u64 == WRAP {
            250
        } else {
            (k % 250) as u8
        };
        assert_eq!(outcome.as_ref().ok(), Some(&expected), "item {k}");
    }
}

#[test]
fn numbers_panics_and_skips_interleaved_come_back_in_order() {
    let _alone = pools_alone();
    let out = pool_map!(|k: u32| -> u32 {
        if k % 7 == 3 {
            panic!("item {k}");
        }
        k.wrapping_mul(2_654_435_761)
    }, 0..5000u32; processes, catch, workers = 2, chunksize = 64);
    for (k, outcome) in out.iter().enumerate() {
        let k = k as u32;
        if k % 7 == 3 {
            let failure = outcome.as_ref().unwrap_err();
            assert_eq!(failure.panic_message(), Some(format!("item {k}").as_str()));
            assert!(
                failure.to_string().contains(&format!("`task-{k}`")),
                "{failure}"
            );
        } else {
            assert_eq!(
                outcome.as_ref().ok(),
                Some(&k.wrapping_mul(2_654_435_761)),
                "item {k}"
            );
        }
    }
    // Without catch, a failure stops the map: the later numbers are skipped.
    let text = catch_unwind(|| {
        pool_map!(|k: u64| -> u64 {
            if k == 900 {
                panic!("nine hundred");
            }
            k
        }, 0..100_000u64; processes, workers = 2, chunksize = 50)
    })
    .map(|out| format!("{} outputs", out.len()))
    .unwrap_or_else(|payload| message(&*payload));
    assert!(
        text.contains("nine hundred") && text.contains("task-900"),
        "{text}"
    );
    // bools, i8 and usize with the timeline and the progress bar on (the
    // timeline takes the general path, the lane does not run).
    let bools = pool_map!(|k: u32| k.is_multiple_of(3), 0..3000u32; processes, workers = 2, timeline, progress);
    assert!(bools.iter().enumerate().all(|(k, &b)| b == (k % 3 == 0)));
    let small =
        pool_map!(|k: i64| (k % 256 - 128) as i8, 0..3000i64; processes, workers = 2, timeline);
    assert!(
        small
            .iter()
            .enumerate()
            .all(|(k, &v)| v == (k as i64 % 256 - 128) as i8)
    );
    let sizes = pool_map!(|k: usize| usize::MAX - k, 0..3000usize; processes, workers = 3, chunksize = 7, progress);
    assert!(sizes.iter().enumerate().all(|(k, &v)| v == usize::MAX - k));
    let floats = pool_map!(|k: u64| f64::from_bits(0x7ff0_0000_0000_0001 + k), 0..3000u64; processes, workers = 2, recycle = 100);
    assert!(
        floats
            .iter()
            .enumerate()
            .all(|(k, v)| v.to_bits() == 0x7ff0_0000_0000_0001 + k as u64)
    );
}

// ---------------------------------------------------------------- the first group

#[test]
fn s_first_group_during_a_slow_report() {
    if !scenario("s_first_group_during_a_slow_report") {
        return;
    }
    set_slow_hook(Duration::from_secs(5));
    std::thread::spawn(|| {
        let _ = catch_unwind(|| panic!("slow: a report that takes 5 s"));
    });
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let one = spawn_processes!(|| 1u32);
    println!("REPORT one {one} in {:?}", start.elapsed());
    // SAFETY: ends the copy without waiting for the report.
    unsafe { libc::_exit(0) };
}

/// fanout wraps the panic hook at its first group, with `take_hook` and
/// `set_hook`: std makes those wait for every panic hook running on other
/// threads. So the first `spawn_processes!` (or pool, gather, ...) of a
/// process waits for a slow report on another thread to end, without the
/// bound that the panic gate promises (`GATE_PATIENCE`, 1 s). (Also so on
/// the commit before the two changes.)
#[test]
fn the_first_group_does_not_wait_for_a_slow_report_on_another_thread_without_bound() {
    let run = run(
        "s_first_group_during_a_slow_report",
        &[],
        Duration::from_secs(60),
    );
    assert!(run.code == Some(0) && !run.hung, "{}", run.text());
    let report = report_of(&run);
    let took = report
        .trim()
        .strip_prefix("one 1 in ")
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(f64::MAX);
    assert!(took < 2.0, "the first group waited {report}");
}

// ---------------------------------------------------------------- timeouts

/// An item whose destructor, in the parent, takes 100 ms.
struct SlowToDrop(u32, u32);

impl Drop for SlowToDrop {
    fn drop(&mut self) {
        if std::process::id() == self.1 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn s_timeout_shorter_than_the_loop() {
    if !scenario("s_timeout_shorter_than_the_loop") {
        return;
    }
    let out = spawn_processes!(|| {
        let me = std::process::id();
        let items: Vec<SlowToDrop> = (0..10).map(|k| SlowToDrop(k, me)).collect();
        let start = Instant::now();
        let out = spawn_processes!(for item in items => {
            item.0
        }; timeout = Duration::from_millis(500), catch);
        let took = start.elapsed();
        (show(out), took)
    }; timeout = Duration::from_secs(60));
    println!("REPORT {out:?}");
}

/// The timeout counts from the start of the group. A child that answered
/// and exited within it must not be reported as timed out because the
/// parent was still busy forking the later items (here each item's
/// destructor takes 100 ms in the parent; in a large parent each fork
/// takes long by itself: with 1 GiB resident, 200 items of a loop with
/// `timeout = 500ms` all come back as timeouts, item 0 included, although
/// each child ended within a millisecond). At the deadline the parent kills
/// and marks as timed out every child whose pipe it has not read yet,
/// without looking whether it already ended with its output in the pipe.
/// (Also so on the commit before the two changes.)
#[test]
fn a_child_that_answered_before_the_deadline_is_not_timed_out_by_a_slow_parent() {
    let run = run(
        "s_timeout_shorter_than_the_loop",
        &[],
        Duration::from_secs(60),
    );
    assert_clean(&run);
    let report = report_of(&run);
    // Items 0 to 3 were forked (and ended) within the first 400 ms.
    assert!(
        report.starts_with("([Ok(0), Ok(1), Ok(2), Ok(3),"),
        "{report}"
    );
}
