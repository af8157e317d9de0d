//! All of fanout's unsafe code: `fork`, pipes and sockets, `poll`, `waitpid`,
//! `kill`, `_exit` and one shared-memory page, each behind a small safe function.
//!
//! # What `fork` means in a multi-threaded program
//!
//! A forked child is a copy of the caller's memory in which only the thread
//! that called `fork` exists. A lock that another thread of the caller held at
//! that instant (a `Mutex` of the program, a logger's buffer, ...) is held in
//! the child forever, by a thread that does not exist there: a child that
//! takes it hangs. glibc and the macOS libc re-initialise their allocator
//! locks in the child. Nothing can do the same for the program's own locks, so
//! a task run in a child should not wait on a lock that other threads also use.
//!
//! # Printing: the std stdio locks
//!
//! Three locks guard printing: std's stdout and stderr locks, and, under
//! `cargo test`, the harness's output capture (a mutex that `print!` holds
//! while it formats). A child can print only if no *other* thread held them
//! at the fork, so [`Forks::fork_with`] takes them on the forking thread
//! (after flushing stdout, so that text buffered by `print!` appears once)
//! and forks while holding them; the fork itself happens inside a `print!` of
//! an empty value, the only way to hold the capture.
//!
//! Taking them must not hang the caller: a thread may hold `stdout().lock()`
//! for a long time while it waits for the thread that forks
//! (`let out = stdout().lock(); spawn_threads!(.. spawn_processes!(..))`).
//! std has no `try_lock` for them, so [`ForkGroup::probe`], once per group
//! of forks (a `spawn_processes!` scope, a process pool), tries to take each
//! of them on a short-lived helper thread and waits at most [`PROBE_LIMIT`]
//! (no helper in a single-threaded process: nobody else can hold them):
//!
//! - [`StdioLocks::Free`] (the common case): each fork of the group takes the
//!   locks on the forking thread, flushes and forks inside `print!`, as above
//!   (outside it in a process that was alone at the probe: no other thread
//!   can hold a capture there). A helper that took the locks released them
//!   before saying so.
//! - [`StdioLocks::Held`]: someone holds a lock long-term. The forks of the
//!   group touch none of them (no flush, no `print!`), and the child knows its
//!   stdio may be locked: it does not flush at exit (which would hang). Such a
//!   child **cannot print**: a `print!` in it waits forever for a lock whose
//!   owner does not exist there (a `timeout` still ends it). The helper stays
//!   blocked until the lock is released, then releases it at once; until
//!   then, later probes answer `Held` without a helper (no pile of blocked
//!   threads), and so does every probe in such a child (its locks stay held
//!   for ever), for its own forks.
//!
//! A lock taken long-term *after* the probe, while the group still forks, can
//! still block the forking thread until it is released; the probe makes that
//! a race, not the rule. A lock held by the forking thread itself (std's
//! stdio locks are reentrant) also reads as `Held`, after the full wait,
//! when there is a helper to ask. A process whose only thread is the caller
//! has none: a hold of the caller's own reads as free, and each child
//! inherits it, held by the child's main thread (the copy of the forking
//! thread), which can print; another thread of the child (one its task
//! starts, or the fresh thread of a child forked inside a Tokio runtime)
//! waits for it for ever. Release the lock before forking.
//!
//! Cost, measured in release on the 2-core machine: about 3.5 µs per group in
//! a single-threaded process (reading `/proc/self/stat`), about 60 µs per
//! group otherwise (the helper thread); nothing per fork. A process alone at
//! the probe also keeps the locks held from one fork of a run to the next
//! ([`Forks`]), so that its parent side writes none of their pages between
//! two forks.
//!
//! # Panic reports
//!
//! std's default panic hook holds a private lock of std while it writes a
//! report (for long when `RUST_BACKTRACE` is set): a child forked meanwhile
//! would hang at its first panic. fanout wraps the panic hook once, at its
//! first group, so that reports and forks wait for each other, each for a
//! bounded time; see [`PanicGate`]. Wrapping it waits for hooks running on
//! other threads (std's `set_hook` does), so it is done on a helper thread,
//! waited for at most the same bound.
//!
//! # A child's first steps
//!
//! On Linux the child asks for `SIGKILL` when its parent dies
//! (`PR_SET_PDEATHSIG`) and exits at once if the parent died before that
//! call, so that no child outlives a parent killed by `SIGKILL`, `SIGTERM` or
//! `SIGINT`. The kernel sends that signal when the *thread* that forked
//! exits, not the whole process: fanout forks only from the thread that waits
//! for its children (a scope, a pool), which lives until they ended. The one
//! child that may outlive its forking thread, a process stream's fork server
//! (the stream can be read on another thread), asks for no signal: it ends
//! when its socket to the parent does, and its workers with it.
//!
//! A child forked inside a Tokio runtime (Tokio marks the runtime's threads
//! in a thread-local; the parent asks once per group) runs its work on a
//! fresh thread, on which it may start a runtime of its own (`fanout::run`,
//! `Runtime::new`); see [`run_outside_runtime`]. Other children run it on the
//! forking thread's copy, at no cost.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub(crate) mod ring;
pub(crate) mod slots;

/// The exit code of a child whose task (or the runtime code around it) panicked.
pub(crate) const PANIC_EXIT: i32 = 101;

/// How long [`StdioLocks::probe`] waits for the stdio locks. Generous, so
/// that a helper thread scheduled late on a loaded machine does not read as
/// a held lock (whose children could not print): a held lock costs this wait
/// once, since later probes see the helper still blocked.
pub(crate) const PROBE_LIMIT: Duration = Duration::from_millis(100);

/// The stack of the thread that runs a child's work in [`run_outside_runtime`]:
/// as large as a main thread's, since the forking thread may be one.
const FRESH_THREAD_STACK: usize = 8 << 20;

/// Serialises fanout's forks: pipes are created and the child's ends closed
/// in the parent under this lock, so that no other fanout fork (from another
/// thread) inherits a pipe end it has no business holding.
static FORK_LOCK: Mutex<()> = Mutex::new(());

/// What the forks of one group (a `spawn_processes!` scope, a process pool)
/// share, found once for the group by [`ForkGroup::probe`] and passed to
/// each [`Forks::fork_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForkGroup {
    stdio: StdioLocks,
    /// Whether the forking thread is inside an async runtime (see
    /// [`run_outside_runtime`]); asked in the parent, where Tokio's code is
    /// warm, not in each child, where the first call costs tens of µs.
    in_runtime: bool,
    /// Whether each child dies with the thread that forked it
    /// (`PR_SET_PDEATHSIG`; see the module documentation).
    death_signal: bool,
}

impl ForkGroup {
    /// Probes the stdio locks ([`StdioLocks::probe`]) and whether the caller
    /// is inside an async runtime; call it on the thread that will fork.
    pub(crate) fn probe() -> Self {
        let alone = only_thread();
        PanicGate::install(alone);
        ForkGroup {
            stdio: StdioLocks::probe(alone),
            in_runtime: inside_async_runtime(),
            death_signal: true,
        }
    }

    /// The same group, whose children do not die with the forking thread:
    /// for a child that watches a socket to its parent instead (closed when
    /// the parent process ends, whichever of its threads forked), and so
    /// outlives the thread that forked it. A stream's fork server is one: the
    /// stream may be read on another thread than the one that made it.
    #[cfg(feature = "pool")]
    pub(crate) fn outliving_the_forking_thread(mut self) -> Self {
        self.death_signal = false;
        self
    }
}

/// Whether the forks of a group may take the std stdio locks (see the module
/// documentation): the outcome of [`StdioLocks::probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StdioLocks {
    /// Each could be taken within [`PROBE_LIMIT`]: forks hold them, and the
    /// children may print. `shared`: the process had other threads at the
    /// probe, so one of them may be inside `print!` holding a test
    /// harness's output capture when a fork happens; the fork then happens
    /// inside a `print!` itself, the only way to hold the capture too. A
    /// process alone at the probe has no capture in use (the test harness
    /// runs each test on a thread of its own) and forks outside `print!`:
    /// its children then map five pages fewer (the formatting code they
    /// would return through).
    Free { shared: bool },
    /// One of them is held by another thread: forks do not touch them, and
    /// the children must not print (nor flush at exit).
    Held,
}

/// Helpers of [`StdioLocks::probe`] that gave up waiting for a lock and are
/// still blocked on it. While one is, the lock is still held: later probes
/// answer [`StdioLocks::Held`] at once, rather than pile up blocked threads.
static STUCK_PROBES: AtomicUsize = AtomicUsize::new(0);

/// Set in a child forked while the stdio locks were held by other threads:
/// they stay held there for ever, so the child's own forks must not take them.
static STDIO_LOCKED_FOR_EVER: AtomicBool = AtomicBool::new(false);

/// A probe's state, shared with its helper.
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

impl StdioLocks {
    /// Tries, on a helper thread, to take the stdout lock, the stderr lock
    /// and the test harness's output capture, one after the other, and waits
    /// at most [`PROBE_LIMIT`] for it to succeed. Costs a thread (once per
    /// group of forks), except in a process whose only thread is the caller:
    /// no other thread can hold a lock there, and spawning one would make the
    /// C library treat the process as multi-threaded from then on.
    /// `alone`: the caller is the process's only thread ([`only_thread`]).
    fn probe(alone: bool) -> Self {
        if STDIO_LOCKED_FOR_EVER.load(Ordering::Relaxed) || STUCK_PROBES.load(Ordering::Acquire) > 0
        {
            return StdioLocks::Held;
        }
        if alone {
            return StdioLocks::Free { shared: false };
        }
        let state = Arc::new(AtomicU8::new(WAITING));
        let request = ProbeRequest {
            state: Arc::clone(&state),
            prober: std::thread::current(),
        };
        if !ProbeRequest::send(request) {
            // No thread to probe with: do not risk hanging on the locks.
            return StdioLocks::Held;
        }
        let deadline = std::time::Instant::now() + PROBE_LIMIT;
        loop {
            if state.load(Ordering::Acquire) == TAKEN {
                return StdioLocks::Free { shared: true };
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::park_timeout(deadline - now);
        }
        // Counted before the helper can see ABANDONED (and uncount itself).
        STUCK_PROBES.fetch_add(1, Ordering::AcqRel);
        match state.compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => StdioLocks::Held,
            Err(_) => {
                // Taken just now.
                STUCK_PROBES.fetch_sub(1, Ordering::AcqRel);
                StdioLocks::Free { shared: true }
            }
        }
    }
}

/// One probe of the stdio locks, for the prober thread.
struct ProbeRequest {
    state: Arc<AtomicU8>,
    prober: std::thread::Thread,
}

impl ProbeRequest {
    /// Takes and releases the locks, then tells the prober (unless it gave
    /// up waiting: then it counts as stuck until now).
    fn answer(self) {
        // Each released before the next is taken: never two at once, so no
        // lock order to get wrong.
        drop(io::stdout().lock());
        drop(io::stderr().lock());
        // The capture (a thread spawned by a test inherits it), or the
        // stdout lock again without one.
        print!("");
        if self
            .state
            .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.prober.unpark();
        } else {
            STUCK_PROBES.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Hands the request to this process's prober thread, started on first
    /// use and kept (a thread per probe would cost a thread start per group
    /// of forks); `false` if there is none and none can be started.
    fn send(request: ProbeRequest) -> bool {
        type Prober = (u32, std::sync::mpsc::Sender<ProbeRequest>);
        static PROBER: Mutex<Option<Prober>> = Mutex::new(None);
        // Under the fork lock, so that no child is forked while another
        // thread holds `PROBER`'s lock.
        let _fork = ForkLock::acquire();
        let mut prober = PROBER.lock().unwrap_or_else(|e| e.into_inner());
        let pid = std::process::id();
        if prober.as_ref().is_none_or(|(owner, _)| *owner != pid) {
            // A forked child has no prober thread: its parent's is not there.
            if let Some(parents) = prober.take() {
                std::mem::forget(parents);
            }
            let (sender, requests) = std::sync::mpsc::channel::<ProbeRequest>();
            let started = std::thread::Builder::new()
                .name("fanout-stdio-probe".to_owned())
                .stack_size(64 << 10)
                .spawn(move || {
                    for request in requests {
                        request.answer();
                    }
                });
            if started.is_err() {
                return false;
            }
            *prober = Some((pid, sender));
        }
        match prober.as_ref() {
            Some((_, sender)) => sender.send(request).is_ok(),
            None => false,
        }
    }
}

/// Whether the caller is the process's only thread (Linux: from
/// `/proc/self/stat`; elsewhere never known).
fn only_thread() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return false;
        };
        // `pid (comm) state ...`: comm may hold spaces; `num_threads` is the
        // 20th field, the 18th after the comm.
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].split_ascii_whitespace().nth(17))
            .is_some_and(|threads| threads == "1")
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    false
}

/// The right to fork: held by [`Forks`] around each fork, and by code that
/// creates descriptors no other fanout fork may copy.
pub(crate) struct ForkLock {
    _guard: MutexGuard<'static, ()>,
}

impl ForkLock {
    /// Waits until no other thread is forking.
    pub(crate) fn acquire() -> Self {
        ForkLock {
            _guard: FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// The forks of one group made by one thread in a row: a
/// `spawn_processes!` loop, a pool's workers, a single `Scope::spawn`.
///
/// Call [`hold`](Forks::hold) before creating the pipes of the next child,
/// then [`fork_with`](Forks::fork_with). In a process that was alone at the
/// group's probe, what a fork holds (the fork lock, the [`PanicGate`], the
/// stdio locks, stdout flushed once) stays held from one fork to the next
/// until [`release`](Forks::release) or the end of the `Forks`: the parent
/// then writes none of those pages between two forks, each of which it would
/// copy (a fault, ~2.5 µs on the 2-core machine) because the child just made
/// it shared. So, between two forks of one `Forks`, run nothing that may
/// print, fork or panic in the parent: drop what the child took with
/// [`drop_outside`](Forks::drop_outside). Elsewhere (other threads may want
/// those locks) everything is released after each fork.
pub(crate) struct Forks {
    group: ForkGroup,
    held: Option<Held>,
}

/// What [`Forks::hold`] took; released in field order.
struct Held {
    stdio: Option<(io::StdoutLock<'static>, io::StderrLock<'static>)>,
    gate: PanicGate,
    _lock: ForkLock,
}

impl Forks {
    /// Forks of `group`, none held yet.
    pub(crate) fn new(group: ForkGroup) -> Self {
        Forks { group, held: None }
    }

    /// Whether what a fork holds stays held until the next (see the type's
    /// documentation).
    fn keeps_holding(&self) -> bool {
        self.group.stdio == (StdioLocks::Free { shared: false })
    }

    /// Waits until no other thread is forking, and takes what a fork holds
    /// (unless held already): call it before creating the next child's
    /// pipes, which the fork lock then keeps from other threads' forks
    /// until this child is forked.
    pub(crate) fn hold(&mut self) {
        if self.held.is_some()
            && (AT_GATE.load(Ordering::SeqCst) != 0 || REPORTING.load(Ordering::SeqCst) != 0)
        {
            // Held since the last fork of the run, while a panic report
            // waits at the gate: let it through (its wait, and this fork's,
            // bounded by the gate's patience) before the next child's pipes.
            self.release();
        }
        let held = self.take_held();
        self.held = Some(held);
    }

    /// What [`hold`](Forks::hold) holds, taken out of `self` (taken now if
    /// nothing is held).
    fn take_held(&mut self) -> Held {
        if let Some(held) = self.held.take() {
            return held;
        }
        let lock = ForkLock::acquire();
        let gate = PanicGate::close(std::process::id());
        let stdio = self.keeps_holding().then(|| {
            let mut stdout = io::stdout().lock();
            let _ = stdout.flush();
            (stdout, io::stderr().lock())
        });
        Held {
            stdio,
            gate,
            _lock: lock,
        }
    }

    /// Releases what [`hold`](Forks::hold) took.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }

    /// Drops `value` (what a child took, returned by [`Forks::fork_with`])
    /// with nothing held if its destructor may run code: it may print, fork
    /// or panic.
    pub(crate) fn drop_outside<T>(&mut self, value: T) {
        if std::mem::needs_drop::<T>() {
            self.release();
        }
        drop(value);
    }

    /// Forks ([`hold`](Forks::hold)ing first if needed). The child runs
    /// `child(ends)` and leaves with `_exit` and the code it returned
    /// ([`PANIC_EXIT`] if it panicked), never returning from this call. The
    /// parent closes `ends` (the child's ends of its pipes) with the fork
    /// lock held, and gets the child's pid and `child` back, to drop with
    /// [`drop_outside`](Forks::drop_outside) (its captures' destructors may
    /// print, or even fork).
    ///
    /// If the group's stdio locks are free, stdout is flushed and the stdio
    /// locks are held across the fork; otherwise none is touched (see the
    /// module documentation).
    pub(crate) fn fork_with<E, C>(&mut self, ends: E, child: C) -> (io::Result<u32>, C)
    where
        C: FnOnce(E) -> i32,
    {
        let held = self.take_held();
        let group = self.group;
        let parent = std::process::id();
        let (forked, locks) = match group.stdio {
            StdioLocks::Free { shared: true } => {
                // stdout before stderr: a thread that holds stdout and
                // prints to stderr (the likely nesting) waits for nothing.
                let mut stdout = io::stdout().lock();
                let _ = stdout.flush();
                let stderr = io::stderr().lock();
                let point = ForkPoint(Cell::new(None));
                print!("{point}");
                (point.0.take(), Some((stdout, stderr)))
            }
            // Alone at the probe: the stdio locks are held since `hold`,
            // and no other thread can hold a capture.
            StdioLocks::Free { shared: false } | StdioLocks::Held => (Some(fork_now()), None),
        };
        let forked = match forked {
            Some(Ok(0)) => {
                let Held { stdio, gate, _lock } = held;
                PanicGate::reset_in_child(gate);
                if group.death_signal {
                    die_with_parent(parent);
                }
                drop(locks);
                drop(stdio);
                drop(_lock);
                run_child(group, move || child(ends))
            }
            Some(Ok(pid)) => Ok(pid.unsigned_abs()),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(errno)),
            None => Err(io::Error::other("fork was not reached")),
        };
        // The child's ends, closed in the parent while no other fanout fork
        // can copy them.
        drop(ends);
        drop(locks);
        if self.keeps_holding() {
            self.held = Some(held);
        }
        (forked, child)
    }
}

/// Keeps forks and panic reports apart. std's default panic hook holds a
/// private lock of std (the backtrace lock) while it writes the report, for
/// long when `RUST_BACKTRACE` is set: a child forked meanwhile would hang at
/// its first panic. fanout wraps the panic hook (once, in the parent, at its
/// first group) so that a report waits while a fork is about to happen, and a
/// fork waits for the reports in progress. Every wait is bounded, so neither
/// can deadlock the other (a report from a thread that holds a lock the fork
/// needs goes ahead after [`GATE_PATIENCE`]). A hook set by the program after
/// that replaces the wrapper, and with it this protection.
struct PanicGate {
    _closed: (),
}

/// The most a fork waits for panic reports in progress, and a panic report
/// for a fork about to happen.
const GATE_PATIENCE: Duration = Duration::from_secs(1);

/// The process whose fork is under way (0: none). A pid, not a flag: a child
/// inherits the value and need not write it back (a write to a page in the
/// child copies it).
static FORKING: AtomicU32 = AtomicU32::new(0);
/// Panic reports in progress (in the wrapped hook).
static REPORTING: AtomicUsize = AtomicUsize::new(0);
/// Panic reports waiting for the gate to open (counted for their whole
/// wait, while `REPORTING` lets a fork through between two looks).
static AT_GATE: AtomicUsize = AtomicUsize::new(0);
/// Whether the hook is wrapped.
static GATE_INSTALLED: AtomicBool = AtomicBool::new(false);

impl PanicGate {
    /// Wraps the panic hook, unless done already (or this thread is
    /// panicking, when the hook cannot be changed: the next group tries
    /// again). std's `take_hook` and `set_hook` wait for every hook running
    /// on other threads, for as long as it runs: unless the caller is
    /// `alone` (no other thread), the hook is wrapped on a helper thread,
    /// waited for at most [`GATE_PATIENCE`]. If that passes (a slow report
    /// elsewhere), this group forks without the gate, and the helper wraps
    /// the hook once that report ended.
    fn install(alone: bool) {
        if GATE_INSTALLED.load(Ordering::Acquire) || std::thread::panicking() {
            return;
        }
        if alone {
            PanicGate::install_now();
            return;
        }
        let (done, installed) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::Builder::new()
            .name("fanout-panic-gate".to_owned())
            .stack_size(64 << 10)
            .spawn(move || {
                PanicGate::install_now();
                let _ = done.send(());
            });
        if helper.is_ok() {
            let _ = installed.recv_timeout(GATE_PATIENCE);
        }
    }

    /// Wraps the panic hook (see [`install`](PanicGate::install)), unless
    /// another thread did.
    fn install_now() {
        // fanout's naming hook goes first, under the gate, so that the gate
        // also keeps its reports apart from forks.
        crate::thread_name::install_panic_hook();
        static INSTALL: Mutex<()> = Mutex::new(());
        let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        if GATE_INSTALLED.load(Ordering::Acquire) {
            return;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let start = std::time::Instant::now();
            REPORTING.fetch_add(1, Ordering::SeqCst);
            if FORKING.load(Ordering::SeqCst) == std::process::id() {
                // Seen by a run of forks that keeps the gate closed from
                // one fork to the next ([`Forks::hold`]): it opens it.
                AT_GATE.fetch_add(1, Ordering::SeqCst);
                while FORKING.load(Ordering::SeqCst) == std::process::id()
                    && start.elapsed() < GATE_PATIENCE
                {
                    REPORTING.fetch_sub(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(100));
                    REPORTING.fetch_add(1, Ordering::SeqCst);
                }
                AT_GATE.fetch_sub(1, Ordering::SeqCst);
            }
            previous(info);
            REPORTING.fetch_sub(1, Ordering::SeqCst);
        }));
        GATE_INSTALLED.store(true, Ordering::Release);
    }

    /// Tells reports that this process (`pid`) is about to fork, and waits (boundedly)
    /// for those in progress. Call it before taking any other lock: a report
    /// may need them.
    fn close(pid: u32) -> Self {
        FORKING.store(pid, Ordering::SeqCst);
        if REPORTING.load(Ordering::SeqCst) != 0 {
            let start = std::time::Instant::now();
            while REPORTING.load(Ordering::SeqCst) != 0 && start.elapsed() < GATE_PATIENCE {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        PanicGate { _closed: () }
    }

    /// In the child: no fork is under way there, and no report runs.
    #[inline]
    fn reset_in_child(gate: Self) {
        // Stored only if needed: a store dirties the page, which the child
        // then copies (a fault and 4 KiB per child). `FORKING` holds the
        // parent's pid, which means nothing here.
        if REPORTING.load(Ordering::SeqCst) != 0 {
            REPORTING.store(0, Ordering::SeqCst);
        }
        std::mem::forget(gate);
    }
}

impl Drop for PanicGate {
    fn drop(&mut self) {
        FORKING.store(0, Ordering::SeqCst);
    }
}

/// Forks when formatted; the outcome of `fork` (pid or errno) is kept.
struct ForkPoint(Cell<Option<Result<libc::pid_t, i32>>>);

impl fmt::Display for ForkPoint {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.get().is_none() {
            self.0.set(Some(fork_now()));
        }
        Ok(())
    }
}

/// `fork`: the child's pid (0 in the child) or the errno.
#[inline]
fn fork_now() -> Result<libc::pid_t, i32> {
    // SAFETY: the child is a copy of this process with only this thread. It
    // runs nothing but `die_with_parent` and `run_child` (called by
    // `Forks::fork_with`): it releases the locks this thread holds (the
    // fork lock, and the stdio locks if they were taken before the fork so no
    // other thread holds them), runs the task, and leaves with `_exit`
    // without returning into the caller's code or running its destructors.
    // The caveat for locks held by other threads is documented on this module
    // and on `spawn_processes!`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(pid)
    }
}

/// Gives the pages that lie wholly inside `buffer` back to the system
/// (Linux: `madvise(MADV_DONTNEED)`), if it spans at least 64 KiB: their
/// bytes then read as zeros, or as they were (memory the system cannot
/// discard), which uninitialized memory allows. A buffer an allocator
/// reused keeps its pages mapped: a process forked next shares them, and
/// each first write to one after the fork copies it (a fault, a 4 KiB copy
/// and a TLB flush); a page given back is mapped afresh, zeroed, with no copy.
pub(crate) fn release_pages(buffer: &mut [MaybeUninit<u8>]) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // The smallest page size: a larger one only makes fewer whole pages.
        const PAGE: usize = 4096;
        let start = buffer.as_mut_ptr() as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + buffer.len()) & !(PAGE - 1);
        if end >= first + (64 << 10) {
            // SAFETY: `first..end` lies inside `buffer`, which this call
            // borrows exclusively, and whose bytes may be anything: whatever
            // the system leaves there (zeros, or the old bytes if it cannot
            // discard them; a failure changes nothing) is valid for them.
            // Whole pages inside it hold nothing else (no allocator header).
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = buffer;
}

/// Sets the calling thread's name as the system shows it
/// (`/proc/self/task/*/comm`, `ps`, debuggers): `name`, NUL-padded, at most
/// 15 bytes.
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn set_thread_name(name: &[u8; 15]) {
    let mut terminated = [0u8; 16];
    terminated[..15].copy_from_slice(name);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes
    // from its second argument: `terminated` is 16 bytes and its last is 0.
    // It only renames the calling thread, and cannot fail for a valid pointer.
    unsafe {
        libc::prctl(
            libc::PR_SET_NAME,
            terminated.as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
}

/// The calling thread's id in the system, which std's panic messages show
/// after the thread's name.
#[cfg(target_os = "linux")]
pub(crate) fn thread_id() -> u32 {
    // SAFETY: gettid takes nothing and cannot fail.
    let tid = unsafe { libc::gettid() };
    tid.unsigned_abs()
}

/// The child's first step: die with the parent (see the module
/// documentation), and exit at once if it is already gone.
#[inline]
fn die_with_parent(parent: u32) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let kill = libc::SIGKILL as libc::c_ulong;
        // SAFETY: PR_SET_PDEATHSIG takes a signal number by value; the other
        // arguments are unused.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, kill, 0, 0, 0) };
        // SAFETY: getppid takes nothing and cannot fail.
        let now = unsafe { libc::getppid() };
        // Reparented (to init or a subreaper) before the call above: the
        // parent died and the signal will never come.
        if now.unsigned_abs() != parent {
            exit_now(PANIC_EXIT);
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = parent;
}

/// The child's life after `fork`: `child` (on a fresh thread inside an async
/// runtime), then flush (unless its stdio may be locked) and `_exit`.
fn run_child<C: FnOnce() -> i32>(group: ForkGroup, child: C) -> ! {
    default_fault_signals();
    if group.stdio == StdioLocks::Held {
        STDIO_LOCKED_FOR_EVER.store(true, Ordering::Relaxed);
    }
    let code = if group.in_runtime {
        run_outside_runtime(child)
    } else {
        run_caught(child)
    };
    // stderr has no buffer to flush.
    if matches!(group.stdio, StdioLocks::Free { .. }) {
        let _ = io::stdout().flush();
    }
    exit_now(code)
}

/// `child()`, or [`PANIC_EXIT`] if it panicked.
fn run_caught<C: FnOnce() -> i32>(child: C) -> i32 {
    match catch_unwind(AssertUnwindSafe(child)) {
        Ok(code) => code,
        Err(payload) => {
            // Dropping a payload may panic again: leave it.
            std::mem::forget(payload);
            PANIC_EXIT
        }
    }
}

/// Whether this thread is inside a Tokio runtime (its worker, its
/// `block_on`, or an `enter` guard): a runtime cannot be started on it.
fn inside_async_runtime() -> bool {
    // Without the `gather` feature fanout has no Tokio to ask.
    #[cfg(feature = "gather")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "gather"))]
    false
}

/// Runs `child` on a fresh thread of this child process and waits for it: a
/// fresh thread has none of the forking thread's thread-locals, so no
/// "inside a runtime" mark, and may start a runtime. The work sees the
/// default value of every other thread-local too (fanout sets the worker
/// name in `child`, so it has it).
fn run_outside_runtime<C: FnOnce() -> i32>(child: C) -> i32 {
    /// `child`, moved to the fresh thread although it may not be `Send`.
    struct OnlyOneRuns<C>(C);
    // SAFETY: the child process has one thread, this one, which blocks in
    // `join` from the spawn until the fresh thread ended. So at every moment
    // exactly one thread touches what `C` owns or borrows (`Rc` counts,
    // `RefCell` flags, ...), and spawn and join order the two threads'
    // accesses. The forking thread is alive (blocked), so its thread-locals,
    // which a `C` may point into, stay valid.
    unsafe impl<C> Send for OnlyOneRuns<C> {}
    impl<C> OnlyOneRuns<C> {
        // A method, so that the thread's closure captures the whole wrapper
        // (a closure that names `.0` captures only the field).
        fn into_inner(self) -> C {
            self.0
        }
    }
    let child = OnlyOneRuns(child);
    std::thread::scope(|scope| {
        let fresh = std::thread::Builder::new()
            .stack_size(FRESH_THREAD_STACK)
            .spawn_scoped(scope, move || run_caught(child.into_inner()));
        match fresh {
            Ok(fresh) => fresh.join().unwrap_or(PANIC_EXIT),
            // The work was dropped unrun; the exit code says something failed.
            Err(_) => PANIC_EXIT,
        }
    })
}

/// Gives `SIGSEGV` and `SIGBUS` their default action (end the process).
///
/// Rust's runtime handles them to report stack overflows, and its handler
/// lets a *raised* signal (`raise(SIGSEGV)`, `kill -SEGV`) pass once without
/// effect. A child must die by the signal it receives, so that its failure
/// says so; a stack overflow in a child thus ends it with `SIGSEGV`.
#[inline]
fn default_fault_signals() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: installs the default action, a valid disposition for these
        // signals; no handler of ours runs.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

/// Ends the process at once with `code`: no destructors, no `atexit`
/// handlers, no flushing of std's buffers.
#[inline]
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointers and never returns.
    unsafe { libc::_exit(code) }
}

/// Checks the return value of a libc call that reports errors with -1.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A pipe whose two ends are closed on `exec` and never fds 0–2 (see
/// [`above_stdio`]): `(read end, write end)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    }
    // SAFETY: on success both descriptors are new and owned by nobody else.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        set_cloexec(&ends.0)?;
        set_cloexec(&ends.1)?;
    }
    Ok((above_stdio(ends.0)?, above_stdio(ends.1)?))
}

/// A connected pair of Unix stream sockets, closed on `exec` and never fds
/// 0–2 (see [`above_stdio`]); writing to one whose peer is gone fails with
/// `EPIPE` instead of raising `SIGPIPE` (see [`send_all`]).
pub(crate) fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let kind = libc::SOCK_STREAM;
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    check(unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) })?;
    // SAFETY: on success both descriptors are new and owned by nobody else.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ends = (above_stdio(ends.0)?, above_stdio(ends.1)?);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    for end in [&ends.0, &ends.1] {
        set_cloexec(end)?;
        let on: libc::c_int = 1;
        // SAFETY: `on` is a valid c_int for the duration of the call and its
        // size is passed along; the descriptor is open (borrowed).
        check(unsafe {
            libc::setsockopt(
                end.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
    }
    Ok(ends)
}

/// `fd`, or, if it is 0, 1 or 2 (free because the program closed its stdin,
/// stdout or stderr), a close-on-exec copy of it at 3 or above: a channel on
/// fd 1 would receive a child's `println!`.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > libc::STDERR_FILENO {
        return Ok(fd);
    }
    // SAFETY: fcntl on an open descriptor (borrowed for the call).
    let copy = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: on success the copy is new and owned by nobody else; `fd` is
    // closed when dropped here.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on an open descriptor (borrowed for the call).
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(())
}

/// Makes reads and writes on `fd`'s open file description non-blocking.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on an open descriptor (borrowed for the call).
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Writes all of `bytes` to `fd` (a pipe), retrying when interrupted: a
/// child's message. `write` itself, not std's writer, whose code a child
/// would otherwise map for this one call (each page of code a child runs
/// for the first time is a page fault).
#[inline]
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes; `fd` is open.
        let written = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if written > 0 {
            bytes = &bytes[written.unsigned_abs()..];
            continue;
        }
        let error = io::Error::last_os_error();
        if written < 0 && error.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(if written == 0 {
            io::ErrorKind::WriteZero.into()
        } else {
            error
        });
    }
    Ok(())
}

/// Writes all of `bytes` to the socket `fd` (from [`socket_pair`]), waiting
/// when it is full, without raising `SIGPIPE` if the peer is gone.
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = 0;
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes; `fd` is open.
        let sent = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), flags) };
        if sent >= 0 {
            bytes = &bytes[sent.unsigned_abs()..];
            continue;
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                let mut fds = [libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                }];
                poll(&mut fds, None)?;
            }
            _ => return Err(error),
        }
    }
    Ok(())
}

/// Room for the control message of one descriptor, aligned for `cmsghdr`.
#[repr(C, align(8))]
// Only the fork server of a stream in processes passes descriptors.
#[cfg(feature = "pool")]
struct OneFdControl([u8; 64]);

/// Sends `bytes` and a copy of `fd` (`SCM_RIGHTS`) on the Unix socket `via`
/// (from [`socket_pair`]), without raising `SIGPIPE` if the peer is gone.
/// The receiver gets its own descriptor for `fd`'s open file; `fd` stays
/// open here.
// Only the fork server of a stream in processes passes descriptors.
#[cfg(feature = "pool")]
pub(crate) fn send_with_fd(
    via: BorrowedFd<'_>,
    bytes: &[u8],
    fd: BorrowedFd<'_>,
) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = 0;
    if bytes.is_empty() {
        return Err(io::Error::other(
            "a descriptor travels with at least one byte",
        ));
    }
    let one = std::mem::size_of::<libc::c_int>() as libc::c_uint;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(one) } as usize;
    let mut control = OneFdControl([0; 64]);
    if space > control.0.len() {
        return Err(io::Error::other("no room for a control message"));
    }
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at `control`, which has room for one cmsghdr and
    // its data (`space` bytes, checked above) and is aligned for cmsghdr;
    // CMSG_FIRSTHDR returns its start, and CMSG_DATA a place within it for
    // one c_int, written unaligned.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const msg);
        if header.is_null() {
            return Err(io::Error::other("no room for a control message"));
        }
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(one) as _;
        std::ptr::write_unaligned(
            libc::CMSG_DATA(header).cast::<libc::c_int>(),
            fd.as_raw_fd(),
        );
    }
    let sent = loop {
        // SAFETY: `msg` and everything it points at (`iov`, `bytes`,
        // `control`) live across the call; `via` is open (borrowed).
        let sent = unsafe { libc::sendmsg(via.as_raw_fd(), &raw const msg, flags) };
        if sent >= 0 {
            break sent.unsigned_abs();
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    // The descriptor went with the first byte; the rest follows plainly.
    send_all(via, &bytes[sent.min(bytes.len())..])
}

/// Receives up to `bytes.len()` bytes on the Unix socket `via`, and the
/// descriptor sent with them by [`send_with_fd`], if any (close-on-exec, at 3
/// or above). Returns how many bytes came (0: the peer is gone). Any further
/// descriptor in the message is closed.
// Only the fork server of a stream in processes passes descriptors.
#[cfg(feature = "pool")]
pub(crate) fn recv_with_fd(
    via: BorrowedFd<'_>,
    bytes: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = 0;
    let mut control = OneFdControl([0; 64]);
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    let received = loop {
        // SAFETY: `msg` points at `iov` (hence `bytes`) and `control`, both
        // valid for writes of the lengths given and alive across the call;
        // `via` is open (borrowed).
        let received = unsafe { libc::recvmsg(via.as_raw_fd(), &raw mut msg, flags) };
        if received >= 0 {
            break received.unsigned_abs();
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let mut first = None;
    // SAFETY: recvmsg filled `control` with `msg_controllen` bytes of
    // control messages; CMSG_FIRSTHDR/CMSG_NXTHDR walk them within that
    // length, and each SCM_RIGHTS message holds `(cmsg_len - CMSG_LEN(0)) /
    // size_of::<c_int>()` descriptors, new in this process and owned by no
    // one else, read unaligned.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&raw const msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<libc::c_int>();
                let len = ((*header).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                for k in 0..len / std::mem::size_of::<libc::c_int>() {
                    let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(k)));
                    if first.is_none() {
                        first = Some(fd);
                    }
                }
            }
            header = libc::CMSG_NXTHDR(&raw const msg, header);
        }
    }
    let fd = match first {
        Some(fd) => {
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            set_cloexec(&fd)?;
            Some(above_stdio(fd)?)
        }
        None => None,
    };
    Ok((received, fd))
}

/// Waits until one of `fds` is ready or `timeout` passed (`None`: no limit);
/// returns how many are ready (0 on timeout). An interrupted wait counts as a
/// timeout.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let millis = match timeout {
        // Round up, so that a wait for 0.3 ms does not spin.
        Some(timeout) => {
            libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
        }
        None => -1,
    };
    // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()`
    // pollfd structs; poll only reads fds/events and writes revents.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if ready < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::Interrupted => Ok(0),
            _ => Err(error),
        };
    }
    Ok(ready.unsigned_abs() as usize)
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// Its status could not be had (someone else reaped it, or `SIGCHLD` is
    /// ignored).
    Lost,
}

/// Reaps the child `pid`: waits for it to end if `block`, otherwise returns
/// `None` at once if it is still running.
pub(crate) fn wait(pid: u32, block: bool) -> Option<Status> {
    // Not 0 (or negative): that would wait for any child of a process group.
    let Some(pid) = libc::pid_t::try_from(pid).ok().filter(|&pid| pid > 0) else {
        return Some(Status::Lost);
    };
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid place for waitpid to write to.
        let ret = unsafe { libc::waitpid(pid, &raw mut status, flags) };
        if ret == 0 {
            return None;
        }
        if ret < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Some(Status::Lost);
        }
        if libc::WIFEXITED(status) {
            return Some(Status::Exited(libc::WEXITSTATUS(status)));
        }
        if libc::WIFSIGNALED(status) {
            return Some(Status::Signaled(libc::WTERMSIG(status)));
        }
        // Stopped or continued (not asked for): keep waiting.
        if !block {
            return None;
        }
    }
}

/// Sends `SIGKILL` to the child `pid`, which must not have been reaped yet
/// (so that its pid cannot belong to another process).
pub(crate) fn kill(pid: u32) {
    // Not 0 (or negative): that would signal a whole process group.
    if let Some(pid) = libc::pid_t::try_from(pid).ok().filter(|&pid| pid > 0) {
        // SAFETY: kill takes no pointers; the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Counters in memory shared with every child forked after its creation: a
/// store in a child is seen by the parent, without a system call.
pub(crate) struct SharedCounters {
    start: NonNull<AtomicU64>,
    len: usize,
}

impl SharedCounters {
    /// `len` counters, each set to `initial`.
    pub(crate) fn new(len: usize, initial: u64) -> io::Result<Self> {
        let len = len.max(1);
        let bytes = len * std::mem::size_of::<AtomicU64>();
        // SAFETY: an anonymous mapping at an address of the kernel's choice:
        // it aliases nothing of ours.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANON,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(io::Error::last_os_error)?;
        let counters = SharedCounters { start, len };
        for counter in counters.get() {
            counter.store(initial, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(counters)
    }

    /// The counters.
    pub(crate) fn get(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is page-aligned, `len` AtomicU64 long, zeroed
        // (a valid AtomicU64) and mapped until `self` is dropped; atomics may
        // be shared, also with other processes.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl Drop for SharedCounters {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference
        // from `get` outlives `self`.
        unsafe {
            libc::munmap(
                self.start.as_ptr().cast(),
                self.len * std::mem::size_of::<AtomicU64>(),
            );
        }
    }
}

/// Runs `handler` when the process exits normally (`exit`, or returning from
/// `main`), with the exit status where the C library tells it (glibc's
/// `on_exit`), and 0 elsewhere (`atexit`). Used by the MPI backend to finalize
/// or abort the MPI job.
#[cfg(all(feature = "mpi", target_os = "linux", target_env = "gnu"))]
pub(crate) fn at_exit(handler: extern "C" fn(libc::c_int, *mut libc::c_void)) {
    unsafe extern "C" {
        /// glibc's `on_exit(3)`: like `atexit`, with the exit status.
        fn on_exit(
            function: extern "C" fn(libc::c_int, *mut libc::c_void),
            argument: *mut libc::c_void,
        ) -> libc::c_int;
    }
    // SAFETY: `on_exit` only stores the function pointer and the argument;
    // `handler` is a plain function that lives as long as the program, and its
    // argument is null.
    unsafe {
        on_exit(handler, std::ptr::null_mut());
    }
}

/// Runs `handler` when the process exits normally; see the glibc version.
#[cfg(all(feature = "mpi", not(all(target_os = "linux", target_env = "gnu"))))]
pub(crate) fn at_exit(handler: extern "C" fn()) {
    // SAFETY: `atexit` only stores the function pointer; `handler` is a plain
    // function that lives as long as the program.
    unsafe {
        libc::atexit(handler);
    }
}

#[cfg(all(test, feature = "pool"))]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::os::fd::AsFd as _;

    use super::*;

    #[test]
    fn a_descriptor_crosses_a_socket_with_its_bytes() {
        let (here, there) = socket_pair().unwrap();
        let (read, write) = pipe().unwrap();
        send_with_fd(here.as_fd(), b"hello", write.as_fd()).unwrap();
        drop(write);
        let mut got = [0u8; 5];
        let (n, fd) = recv_with_fd(there.as_fd(), &mut got).unwrap();
        let mut there = std::os::unix::net::UnixStream::from(there);
        there.read_exact(&mut got[n..]).unwrap();
        assert_eq!(&got, b"hello");
        // The descriptor that came is the pipe's write end: what it writes
        // comes out of the read end, which sees its end once it is closed.
        let fd = fd.expect("a descriptor came with the bytes");
        assert!(fd.as_raw_fd() > libc::STDERR_FILENO);
        let mut received = std::fs::File::from(fd);
        received.write_all(b"x").unwrap();
        drop(received);
        let mut out = String::new();
        std::fs::File::from(read).read_to_string(&mut out).unwrap();
        assert_eq!(out, "x");
        // Bytes alone bring no descriptor; a closed peer reads as 0 bytes.
        send_all(here.as_fd(), b"z").unwrap();
        let mut one = [0u8; 1];
        let (n, fd) = recv_with_fd(there.as_fd(), &mut one).unwrap();
        assert_eq!((n, fd.is_none(), one), (1, true, *b"z"));
        drop(here);
        assert_eq!(recv_with_fd(there.as_fd(), &mut one).unwrap().0, 0);
    }
}
