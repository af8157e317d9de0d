//! What a child process cannot escape: channels on fds 0–2, deadlines after
//! it closed its pipe, locks held across fork, its parent's death, a panic in
//! the parent while it runs, a Tokio runtime around the fork, a panicking
//! `Serialize`.
#![cfg(unix)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use fanout::{pool_map, spawn_processes, spawn_threads};

fn pid() -> u32 {
    std::process::id()
}

/// Whether this run of the binary is the copy that plays `name`.
fn scenario(name: &str) -> bool {
    std::env::var("FANOUT_SCENARIO").as_deref() == Ok(name)
}

/// What a scenario run left.
struct Run {
    /// `None` if it had to be killed at the limit.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self) -> String {
        format!(
            "status {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

fn scratch(name: &str, what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fanout-boundary-{}-{name}.{what}", pid()))
}

/// Runs the test `name` of this binary alone in a new process, as the
/// scenario `name`, with `args` for the harness and `env`; kills it if it
/// runs longer than `limit`.
fn run_scenario(name: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let (out, err) = (scratch(name, "out"), scratch(name, "err"));
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1"])
        .args(args)
        .env("FANOUT_SCENARIO", name)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |path: &PathBuf| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let _ = std::fs::remove_file(path);
        text
    };
    Run {
        status,
        elapsed: start.elapsed(),
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// `pid`'s state letter and parent, from /proc (`None` once it is gone).
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces, so split after ')'.
    let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Every process whose parent is this one, with its state.
fn children_of_self() -> Vec<(u32, char)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((state, parent)) = state_and_parent(pid)
            && parent == std::process::id()
        {
            children.push((pid, state));
        }
    }
    children
}

// ---------------------------------------------------------------- fds 0–2

#[test]
fn scenario_stdin_and_stdout_closed() {
    if !scenario("scenario_stdin_and_stdout_closed") {
        return;
    }
    // SAFETY: closes this process's stdin and stdout, as a daemon does; std's
    // stdout then discards what is printed (EBADF).
    unsafe {
        libc::close(0);
        libc::close(1);
    }
    let timeout = Duration::from_secs(5);
    let (a, b) = spawn_processes!(
        || { println!("a line from a child"); 1 },
        || { print!("b"); 2 };
        timeout = timeout
    );
    assert_eq!((a, b), (1, 2));
    let each =
        spawn_processes!(for i in 0..4 => { println!("child {i}"); i * 2 }; timeout = timeout);
    assert_eq!(each, [0, 2, 4, 6]);
    let squares = pool_map!(|x: u64| {
        println!("item {x}");
        x * x
    }, 0..40u64; processes, workers = 2, chunksize = 3, timeout = timeout);
    assert_eq!(squares, (0..40u64).map(|x| x * x).collect::<Vec<_>>());
    // A stream's workers come from its fork server, their sockets passed
    // back to this process: none may land on fd 0 or 1 either.
    let streamed: Vec<u64> = pool_map!(|x: u64| {
        println!("stream item {x}");
        x * 3
    }, 0..20u64; processes, stream, workers = 2, recycle = 3)
    .collect();
    assert_eq!(streamed, (0..20u64).map(|x| x * 3).collect::<Vec<_>>());
    eprintln!("closed-stdio scenario done");
}

#[test]
#[cfg(target_os = "linux")]
fn channels_never_land_on_fds_0_to_2() {
    let run = run_scenario(
        "scenario_stdin_and_stdout_closed",
        &["--nocapture"],
        &[],
        Duration::from_secs(30),
    );
    assert!(run.succeeded(), "{}", run.describe());
    assert!(
        run.stderr.contains("closed-stdio scenario done"),
        "{}",
        run.describe()
    );
}

#[test]
fn scenario_all_stdio_closed() {
    if !scenario("scenario_all_stdio_closed") {
        return;
    }
    let done = std::env::var("FANOUT_DONE_FILE").unwrap();
    // SAFETY: closes this process's stdin, stdout and stderr, as a daemon
    // does; std's stdout and stderr then discard what is printed (EBADF).
    unsafe {
        libc::close(0);
        libc::close(1);
        libc::close(2);
    }
    let timeout = Duration::from_secs(5);
    let (a, b) = spawn_processes!(
        || { println!("out"); eprintln!("err"); u64::MAX },
        || -> i8 { panic!("a panic with no stderr") };
        catch, timeout = timeout
    );
    assert_eq!(a.unwrap(), u64::MAX);
    assert!(
        b.unwrap_err()
            .to_string()
            .ends_with("a panic with no stderr")
    );
    let squares = pool_map!(|x: u64| {
        eprintln!("item {x}");
        x * x
    }, 0..40u64; processes, workers = 2, chunksize = 3, timeout = timeout);
    assert_eq!(squares, (0..40u64).map(|x| x * x).collect::<Vec<_>>());
    let streamed: Vec<u64> = pool_map!(|x: u64| {
        println!("stream item {x}");
        eprintln!("stream item {x}");
        x * 3
    }, 0..20u64; processes, stream, workers = 2, recycle = 3)
    .collect();
    assert_eq!(streamed, (0..20u64).map(|x| x * 3).collect::<Vec<_>>());
    std::fs::write(done, "done").unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn with_all_of_fds_0_to_2_closed_every_path_still_answers() {
    let done = scratch("all-stdio-closed", "done");
    let _ = std::fs::remove_file(&done);
    let run = run_scenario(
        "scenario_all_stdio_closed",
        &["--nocapture"],
        &[("FANOUT_DONE_FILE", done.to_str().unwrap())],
        Duration::from_secs(30),
    );
    let finished = std::fs::read_to_string(&done).unwrap_or_default();
    let _ = std::fs::remove_file(&done);
    assert!(run.succeeded(), "{}", run.describe());
    assert_eq!(finished, "done", "{}", run.describe());
}

// ---------------------------------------------------------------- deadlines

#[test]
#[cfg(target_os = "linux")]
fn a_child_that_closes_its_pipe_or_execs_is_timed_out_and_reaped() {
    use std::os::unix::process::CommandExt as _;
    let start = Instant::now();
    let (closed, execed, fine) = spawn_processes!(
        || -> u32 {
            for fd in 0..1024 {
                // SAFETY: closing descriptors of this child only; it uses
                // none of them afterwards.
                unsafe { libc::close(fd) };
            }
            std::thread::sleep(Duration::from_secs(10));
            1
        },
        || -> u32 {
            let error = Command::new("sleep").arg("10").exec();
            panic!("could not exec sleep: {error}")
        },
        || 3u32;
        catch, timeout = Duration::from_millis(300)
    );
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert_eq!(fine.unwrap(), 3);
    for failure in [closed.unwrap_err(), execed.unwrap_err()] {
        assert!(failure.is_timeout(), "{failure}");
        assert!(
            failure.to_string().contains("timed out after 300ms"),
            "{failure}"
        );
        let child = failure.pid().expect("a pid");
        assert!(
            state_and_parent(child).is_none_or(|(_, parent)| parent != pid()),
            "child {child} was not reaped"
        );
    }
}

#[test]
fn without_a_timeout_a_child_that_closed_its_pipe_is_waited_for() {
    let start = Instant::now();
    let value = spawn_processes!(|| -> u32 {
        // SAFETY: closes only this child's copy of stdin; std does not use it.
        unsafe { libc::close(0) };
        std::thread::sleep(Duration::from_millis(200));
        5
    });
    assert_eq!(value, 5);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

// ---------------------------------------------------------------- stdio locks

#[test]
fn scenario_stdout_locked_by_a_waiting_thread() {
    if !scenario("scenario_stdout_locked_by_a_waiting_thread") {
        return;
    }
    let out = std::io::stdout().lock();
    let each = spawn_threads!(for i in 0..2 => spawn_processes!(move || i));
    let pooled = spawn_threads!(for i in 0..2u64 => pool_map!(move |x: u64| x + i, 0..4u64; processes, workers = 2));
    // A child of such a group forks too: its stdio stays locked for ever.
    let nested =
        spawn_threads!(for i in 0..1 => spawn_processes!(move || spawn_processes!(move || i + 1)));
    // More groups while the lock is held: no pile of probing threads.
    for round in 0..20 {
        let again = spawn_threads!(for i in 0..2 => spawn_processes!(move || i + round));
        assert_eq!(again, [round, round + 1]);
    }
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |tasks| tasks.count());
    drop(out);
    assert!(threads < 8, "{threads} threads");
    assert_eq!(each, [0, 1]);
    assert_eq!(nested, [1]);
    assert_eq!(pooled, [vec![0, 1, 2, 3], vec![1, 2, 3, 4]]);
    // Once the lock is free, children print again.
    let printed = spawn_processes!(|| {
        println!("printed after the lock");
        7
    });
    assert_eq!(printed, 7);
    eprintln!("stdout-lock scenario done");
}

#[test]
fn a_thread_holding_the_stdout_lock_does_not_deadlock_forks() {
    for args in [&["--nocapture"][..], &[]] {
        let run = run_scenario(
            "scenario_stdout_locked_by_a_waiting_thread",
            args,
            &[],
            Duration::from_secs(10),
        );
        assert!(run.succeeded(), "{args:?}: {}", run.describe());
        if args.is_empty() {
            continue;
        }
        assert!(
            run.stderr.contains("stdout-lock scenario done"),
            "{}",
            run.describe()
        );
        assert_eq!(
            run.stdout.matches("printed after the lock").count(),
            1,
            "{}",
            run.describe()
        );
    }
}

#[test]
fn scenario_children_print_once() {
    if !scenario("scenario_children_print_once") {
        return;
    }
    print!("before ");
    let _ = spawn_processes!(for i in 0..6 => println!("child line {i}"));
    let _ = spawn_processes!(|| eprintln!("child to stderr"), || print!("no newline "));
    let _ = pool_map!(|x: u32| println!("item line {x}"), 0..6u32; processes, workers = 2);
    println!("after");
}

#[test]
fn prints_from_children_appear_exactly_once() {
    let run = run_scenario(
        "scenario_children_print_once",
        &["--nocapture"],
        &[],
        Duration::from_secs(30),
    );
    assert!(run.succeeded(), "{}", run.describe());
    for i in 0..6 {
        for line in [format!("child line {i}\n"), format!("item line {i}\n")] {
            assert_eq!(
                run.stdout.matches(&line).count(),
                1,
                "{line}: {}",
                run.describe()
            );
        }
    }
    for text in ["before ", "no newline ", "after"] {
        assert_eq!(
            run.stdout.matches(text).count(),
            1,
            "{text}: {}",
            run.describe()
        );
    }
    assert_eq!(
        run.stderr.matches("child to stderr").count(),
        1,
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------- no orphans

/// Panics when dropped in the process that made it.
struct PanicsWhenDroppedByItsMaker(u32);

impl Drop for PanicsWhenDroppedByItsMaker {
    fn drop(&mut self) {
        if self.0 == pid() {
            panic!("a capture's Drop panicked");
        }
    }
}

#[test]
fn scenario_captures_that_panic_when_dropped() {
    if !scenario("scenario_captures_that_panic_when_dropped") {
        return;
    }
    let start = Instant::now();
    for _ in 0..50 {
        let capture = PanicsWhenDroppedByItsMaker(pid());
        let payload = catch_unwind(AssertUnwindSafe(|| {
            spawn_processes!(move || {
                let _capture = &capture;
                std::thread::sleep(Duration::from_secs(10));
                1
            })
        }))
        .expect_err("the capture's Drop panics in the caller");
        assert_eq!(
            fanout::__private::panic_message(&*payload),
            "a capture's Drop panicked"
        );
    }
    let left = children_of_self();
    assert!(left.is_empty(), "children left: {left:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    eprintln!("drop scenario done");
}

#[test]
#[cfg(target_os = "linux")]
fn a_capture_whose_drop_panics_leaves_no_child() {
    let run = run_scenario(
        "scenario_captures_that_panic_when_dropped",
        &[],
        &[],
        Duration::from_secs(30),
    );
    assert!(run.succeeded(), "{}", run.describe());
}

#[test]
fn scenario_parent_killed() {
    if !scenario("scenario_parent_killed") {
        return;
    }
    let pids = std::env::var("FANOUT_PIDS").unwrap();
    let _ = spawn_processes!(for i in 0..3 => {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().append(true).open(&pids).unwrap();
        file.write_all(format!("{}\n", pid()).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_secs(30));
        i
    });
}

#[test]
fn scenario_parent_killed_while_streaming() {
    if !scenario("scenario_parent_killed_while_streaming") {
        return;
    }
    let pids = std::env::var("FANOUT_PIDS").unwrap();
    // Each worker notes itself and the stream's fork server (its parent).
    let stream = fanout::pool_map!(
        move |_: u32| {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().append(true).open(&pids).unwrap();
            // SAFETY: getppid takes nothing and cannot fail.
            let server = unsafe { libc::getppid() };
            file.write_all(format!("{}\n{server}\n", pid()).as_bytes()).unwrap();
            std::thread::sleep(Duration::from_secs(30));
            0u32
        },
        0..2u32;
        processes, stream, workers = 2
    );
    for _ in stream {}
}

/// Runs `scenario` (whose processes write their pids to `FANOUT_PIDS`) until
/// `count` lines are there (`distinct` processes), SIGKILLs it, and checks
/// that every process it noted ends within 2 s.
#[cfg(target_os = "linux")]
fn assert_children_die_with_their_parent(scenario: &str, count: usize, distinct: usize) {
    let pids = scratch(scenario, "pids");
    std::fs::write(&pids, "").unwrap();
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", scenario, "--test-threads=1"])
        .env("FANOUT_SCENARIO", scenario)
        .env("FANOUT_PIDS", &pids)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let children: Vec<u32> = loop {
        let text = std::fs::read_to_string(&pids).unwrap();
        let mut children: Vec<u32> = text.lines().filter_map(|l| l.parse().ok()).collect();
        if children.len() >= count {
            children.sort_unstable();
            children.dedup();
            break children;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {children:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = std::fs::remove_file(&pids);
    assert_eq!(children.len(), distinct, "{children:?}");
    parent.kill().unwrap();
    parent.wait().unwrap();
    let killed = Instant::now();
    // Gone, or dead and waiting for whoever adopted it to reap it.
    let alive = || -> Vec<u32> {
        children
            .iter()
            .copied()
            .filter(|&c| state_and_parent(c).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X')))
            .collect()
    };
    while !alive().is_empty() && killed.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        alive().is_empty(),
        "children outlived their parent: {:?}",
        alive()
    );
}

#[test]
#[cfg(target_os = "linux")]
fn children_die_with_their_parent() {
    assert_children_die_with_their_parent("scenario_parent_killed", 3, 3);
}

#[test]
#[cfg(target_os = "linux")]
fn a_process_streams_workers_and_fork_server_die_with_their_parent() {
    // Two workers, each noted with the fork server.
    assert_children_die_with_their_parent("scenario_parent_killed_while_streaming", 4, 3);
}

// ---------------------------------------------------------------- Tokio

fn runtime_in_child(i: u64) -> u64 {
    fanout::run(async move { i * 10 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_forked_inside_a_multi_thread_runtime_may_start_one() {
    let each = spawn_processes!(for i in 0..2 => runtime_in_child(i));
    assert_eq!(each, [0, 10]);
    let shared = std::rc::Rc::new(4);
    let (built, name, not_send) = spawn_processes!(
        || tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { 5 }),
        fanout::current_name,
        || *shared + 1
    );
    assert_eq!(
        (built, name.as_deref(), not_send),
        (5, Some("current_name"), 5)
    );
}

#[tokio::test]
async fn a_child_forked_inside_a_current_thread_runtime_may_start_one() {
    let each = spawn_processes!(for i in 0..2 => runtime_in_child(i));
    assert_eq!(each, [0, 10]);
    let pooled = pool_map!(runtime_in_child, 0..4u64; processes, workers = 2);
    assert_eq!(pooled, [0, 10, 20, 30]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_stream_made_inside_a_runtime_runs_and_ends() {
    // Its fork server runs its work on a fresh thread (outside the
    // runtime's thread-locals), and forks the workers from there.
    let out: Vec<u64> = pool_map!(
        |x: u64| runtime_in_child(x) + 1,
        0..12u64;
        processes, stream, workers = 2, recycle = 5
    )
    .collect();
    assert_eq!(out, (0..12u64).map(|x| x * 10 + 1).collect::<Vec<_>>());
    // Each item tells its worker and the worker's parent, the fork server.
    let mut early = pool_map!(
        // SAFETY: getppid takes nothing and cannot fail.
        |x: u64| (x * 3, pid(), unsafe { libc::getppid() }.unsigned_abs()),
        0u64..;
        processes, stream, workers = 2, buffer = 2
    );
    let (first, worker, server) = early.next().unwrap();
    assert_eq!(first, 0);
    assert_ne!(server, pid());
    drop(early);
    // Both reaped: not even a zombie is left.
    for process in [worker, server] {
        assert!(state_and_parent(process).is_none(), "{process} is left");
    }
}

// ---------------------------------------------------------------- Serialize

/// An output whose serialization panics.
#[derive(Debug, serde::Deserialize)]
struct Unserializable;

impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("cannot serialize this")
    }
}

#[test]
fn a_panicking_serialize_is_the_tasks_panic() {
    let (bad, good) = spawn_processes!(|| Unserializable, || 2; catch);
    assert_eq!(good.unwrap(), 2);
    let bad = bad.unwrap_err();
    assert_eq!(bad.panic_message(), Some("cannot serialize this"), "{bad}");
}

/// Builds examples/panic_abort_child.rs with `panic = "abort"` (all of
/// fanout's dependencies too, in `target/panic-abort`: about half a minute on
/// two cores, the first time) and runs it: the child's panic hook sends the
/// message before the child aborts, in spawn_processes! and in a process pool,
/// and a grandchild's panic is sent as its own only.
/// (A test binary cannot be built with `panic = "abort"` on stable Rust.)
#[test]
fn under_panic_abort_the_childs_panic_message_still_arrives() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("panic-abort");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--example", "panic_abort_child", "--target-dir"])
        .arg(&target)
        .args(["--config", "profile.dev.panic=\"abort\""])
        .current_dir(root)
        .status()
        .expect("cannot run cargo");
    assert!(status.success(), "the panic = \"abort\" build failed");
    let run = Command::new(
        target
            .join("debug")
            .join("examples")
            .join("panic_abort_child"),
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("panic = abort: worker `task` (pid "),
        "{stdout}"
    );
    assert!(stdout.contains("panicked: lost under abort\n"), "{stdout}");
    assert!(
        stdout.contains("pool: [Ok(0), Err(\"pool lost under abort\"), Ok(2)]"),
        "{stdout}"
    );
    // A grandchild's panic (caught by its own scope) is not its parent's:
    // neither the child's output nor the pool's items are touched by it.
    assert!(
        stdout.contains("nested: Ok(Err(\"grandchild\"))\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("nested in pool: [Ok((0, true)), Ok((1, true)), Ok((2, true))]\n"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------- panic reports

fn child_panics(i: u32) -> u32 {
    panic!("child {i}")
}

#[test]
fn scenario_panics_reported_while_forking() {
    if !scenario("scenario_panics_reported_while_forking") {
        return;
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let panicker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // Each report holds std's backtrace lock while it resolves the
            // backtrace (RUST_BACKTRACE=1): long enough for forks to land in.
            while !stop.load(Ordering::Relaxed) {
                let _ = catch_unwind(|| panic!("a report in the parent"));
            }
        })
    };
    for _ in 0..20 {
        let each = spawn_processes!(for i in 0..4 => child_panics(i);
            catch, timeout = Duration::from_secs(10));
        for (i, outcome) in each.iter().enumerate() {
            let failure = outcome.as_ref().unwrap_err();
            assert_eq!(
                failure.panic_message(),
                Some(format!("child {i}").as_str()),
                "{failure}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    panicker.join().unwrap();
}

#[test]
fn a_child_forked_while_the_parent_reports_a_panic_can_panic() {
    let run = run_scenario(
        "scenario_panics_reported_while_forking",
        &[],
        &[("RUST_BACKTRACE", "1")],
        Duration::from_secs(60),
    );
    assert!(run.succeeded(), "{}", run.describe());
    assert!(
        run.stdout
            .contains("test scenario_panics_reported_while_forking ... ok"),
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------- partial lines

#[test]
fn scenario_partial_lines_everywhere() {
    if !scenario("scenario_partial_lines_everywhere") {
        return;
    }
    let (a, b, c) = spawn_processes!(
        || {
            print!("[sp-partial]");
            eprint!("[sp-err-partial]");
            1
        },
        || {
            // Threads of the task print, and are joined before it returns.
            std::thread::scope(|s| {
                for i in 0..3 {
                    s.spawn(move || {
                        println!("[thread-line-{i}]");
                        print!("[thread-partial-{i}]");
                        // Unbuffered: one write(2) per piece of a format,
                        // which another process's write can fall between;
                        // the whole text at once is one write.
                        let text = format!("[thread-err-{i}]");
                        eprint!("{text}");
                    });
                }
            });
            2
        },
        || {
            let x = spawn_processes!(for i in 0..1 => {
                print!("[grandchild-partial]");
                i + 5
            });
            print!("[child-after-grandchild]");
            x[0]
        }
    );
    assert_eq!((a, b, c), (1, 2, 5));
    let items = pool_map!(|x: u32| {
        print!("[pool-partial-{x}]");
        x
    }, 0..4u32; processes, workers = 2);
    assert_eq!(items, [0, 1, 2, 3]);
    let streamed: Vec<u32> = pool_map!(|x: u32| {
        print!("[stream-partial-{x}]");
        x
    }, 0..3u32; processes, stream, workers = 1)
    .collect();
    assert_eq!(streamed, [0, 1, 2]);
    print!("[parent-done]");
}

#[test]
fn partial_lines_of_children_threads_grandchildren_and_workers_all_appear_once() {
    let run = run_scenario(
        "scenario_partial_lines_everywhere",
        &["--nocapture"],
        &[],
        Duration::from_secs(30),
    );
    assert!(run.succeeded(), "{}", run.describe());
    let mut expected: Vec<String> = [
        "[sp-partial]",
        "[grandchild-partial]",
        "[child-after-grandchild]",
        "[parent-done]",
    ]
    .map(String::from)
    .into();
    for i in 0..3 {
        expected.push(format!("[thread-line-{i}]\n"));
        expected.push(format!("[thread-partial-{i}]"));
        expected.push(format!("[stream-partial-{i}]"));
    }
    for x in 0..4 {
        expected.push(format!("[pool-partial-{x}]"));
    }
    for text in &expected {
        assert_eq!(
            run.stdout.matches(text.as_str()).count(),
            1,
            "{text}: {}",
            run.describe()
        );
    }
    for text in [
        "[sp-err-partial]",
        "[thread-err-0]",
        "[thread-err-1]",
        "[thread-err-2]",
    ] {
        assert_eq!(
            run.stderr.matches(text).count(),
            1,
            "{text}: {}",
            run.describe()
        );
    }
}
