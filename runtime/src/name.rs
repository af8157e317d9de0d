//! Worker names: [`WorkerName`] and [`current_name`]; [`worker_seed`].

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The name of one worker: a base (`worker`, `print_numbers`, or the `name = "..."`
/// option) and, in the loop form and in pools, the 0-based index of the item.
///
/// Names are cheap to copy, so setting the current name costs nothing measurable
/// even for millions of pool items or futures.
///
/// ```
/// use fanout::WorkerName;
///
/// assert_eq!(WorkerName::new("print_numbers").to_string(), "print_numbers");
/// assert_eq!(WorkerName::indexed("worker", 4).to_string(), "worker-4");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkerName {
    base: &'static str,
    index: Option<usize>,
}

impl WorkerName {
    /// A worker named `base`.
    pub const fn new(base: &'static str) -> Self {
        WorkerName { base, index: None }
    }

    /// The worker for item `index` of a group named `base`: `base-index`.
    pub const fn indexed(base: &'static str, index: usize) -> Self {
        WorkerName {
            base,
            index: Some(index),
        }
    }

    /// This name's base with `index` appended.
    #[must_use]
    #[inline]
    pub const fn with_index(self, index: usize) -> Self {
        WorkerName::indexed(self.base, index)
    }

    /// The base of the name, without the index.
    pub const fn base(&self) -> &'static str {
        self.base
    }

    /// The 0-based item index, in the loop form and in pools.
    pub const fn index(&self) -> Option<usize> {
        self.index
    }
}

impl fmt::Display for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}-{index}", self.base),
            None => f.write_str(self.base),
        }
    }
}

impl fmt::Debug for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkerName({self})")
    }
}

// The current name, kept as two cells so that a pool worker running many
// items in a row updates only the index: one store per item.
thread_local! {
    static CURRENT_BASE: Cell<Option<&'static str>> = const { Cell::new(None) };
    static CURRENT_INDEX: Cell<usize> = const { Cell::new(NO_INDEX) };
}

/// `CURRENT_INDEX` of a name without an index.
const NO_INDEX: usize = usize::MAX;

#[inline]
fn set_current(name: Option<WorkerName>) {
    CURRENT_BASE.with(|c| c.set(name.map(|n| n.base)));
    let index = name.and_then(|n| n.index).unwrap_or(NO_INDEX);
    CURRENT_INDEX.with(|c| c.set(index));
}

/// The name of the fanout worker running on this thread (or in this child
/// process, or in this future while it is polled), or `None` outside workers.
///
/// ```
/// let names = fanout::spawn_threads!(for i in 0..3 => fanout::current_name());
/// assert_eq!(names[2].as_deref(), Some("current_name-2"));
/// assert_eq!(fanout::current_name(), None);
/// ```
pub fn current_name() -> Option<String> {
    current_worker().map(|name| name.to_string())
}

/// The current worker's name without allocating; see [`current_name`].
#[inline]
pub fn current_worker() -> Option<WorkerName> {
    let base = CURRENT_BASE.with(Cell::get)?;
    let index = CURRENT_INDEX.with(Cell::get);
    Some(WorkerName {
        base,
        index: (index != NO_INDEX).then_some(index),
    })
}

/// Makes `name` the current worker name until the guard is dropped, then
/// restores the previous one (workers nest: a pool inside a thread).
///
/// The runtime sets this around every task; call it yourself only when you
/// build your own workers on top of the runtime.
#[inline]
pub fn enter(name: WorkerName) -> NameGuard {
    let previous = current_worker();
    set_current(Some(name));
    NameGuard { previous }
}

/// Makes item `index` of the current name's base the current worker, without
/// a guard: for a pool worker that runs many items in a row inside one
/// [`enter`] (whose guard restores the name from before).
#[cfg(any(feature = "pool", all(unix, feature = "processes")))]
#[inline]
pub(crate) fn set_current_index(index: usize) {
    CURRENT_INDEX.with(|c| c.set(index));
}

/// Restores the previous worker name when dropped; see [`enter`].
#[must_use = "the name is reset as soon as the guard is dropped"]
pub struct NameGuard {
    previous: Option<WorkerName>,
}

impl Drop for NameGuard {
    #[inline]
    fn drop(&mut self) {
        set_current(self.previous);
    }
}

/// A seed for a random number generator, different in every worker, every
/// process and every call: seed the generator of a task with it, once, at the
/// start of the task.
///
/// A forked child is a copy of its parent, and so is the state of every
/// random number generator in it: rand's `ThreadRng`, or any generator
/// seeded before the fork, draws the *same* numbers in every child of a
/// `spawn_processes!` or `pool_map!(...; processes)`, and a Monte Carlo
/// estimate then averages one sample many times over. Seed each task's
/// generator from `worker_seed()` instead
/// (`StdRng::seed_from_u64(fanout::worker_seed())` with rand), as Python's
/// `multiprocessing` users call `random.seed()` in each child.
///
/// The seed hashes the process id, the [current worker's
/// name](current_worker), a count of the calls in this process and a random
/// key drawn once per process (std's `RandomState`): children differ by
/// their pid, the workers of one process by their name and the count. It is
/// not reproducible from run to run; for reproducible runs, derive each
/// task's seed from a fixed seed and the item's index instead.
///
/// # Examples
///
/// Estimating π in four processes, each drawing its own points (a small
/// SplitMix64 generator stands in for rand's):
///
/// ```
/// fn splitmix(state: &mut u64) -> f64 {
///     *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
///     let mut z = *state;
///     z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
///     z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
///     (z ^ (z >> 31)) as f64 / u64::MAX as f64
/// }
///
/// fn hits(samples: u32) -> u32 {
///     let mut state = fanout::worker_seed(); // not a seed copied from the parent
///     (0..samples)
///         .filter(|_| {
///             let (x, y) = (splitmix(&mut state), splitmix(&mut state));
///             x * x + y * y <= 1.0
///         })
///         .count() as u32
/// }
///
/// let counts = fanout::spawn_processes!(for _ in 0..4 => hits(100_000));
/// assert!(counts.windows(2).all(|pair| pair[0] != pair[1])); // four samples, not one four times
/// let pi = 4.0 * counts.iter().sum::<u32>() as f64 / 400_000.0;
/// assert!((pi - std::f64::consts::PI).abs() < 0.05);
///
/// let seeds = fanout::spawn_threads!(for _ in 0..3 => fanout::worker_seed());
/// assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2] && seeds[0] != seeds[2]);
/// ```
pub fn worker_seed() -> u64 {
    static PROCESS_KEY: OnceLock<RandomState> = OnceLock::new();
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = PROCESS_KEY.get_or_init(RandomState::new).build_hasher();
    std::process::id().hash(&mut hasher);
    current_worker().hash(&mut hasher);
    CALLS.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    hasher.finish()
}
