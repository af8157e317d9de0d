//! Worker names: [`WorkerName`] and [`current_name`]; [`worker_seed`].

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The name of one worker: a base (`worker`, `print_numbers`, or the `name = ...`
/// option) and, in the loop form and in pools, the 0-based index of the item.
///
/// The base is either a `&'static str` (a function's name, a literal
/// `name = "io"`: free to copy) or a string built at run time (`name =
/// format!("req-{id}")`), shared by every worker of the group: cloning a name
/// then costs one reference count, and nothing is kept once the last worker
/// of the group is gone. Setting the current name of a pool item stores only
/// its index, so it costs nothing measurable even for millions of items.
///
/// ```
/// use fanout::WorkerName;
///
/// assert_eq!(WorkerName::new("print_numbers").to_string(), "print_numbers");
/// assert_eq!(WorkerName::indexed("worker", 4).to_string(), "worker-4");
///
/// let id = 7;
/// let request = WorkerName::dynamic(&format!("req-{id}"));
/// assert_eq!(request.with_index(2).to_string(), "req-7-2");
/// assert_eq!(request.base(), "req-7");
/// assert_eq!(request, WorkerName::new("req-7"));
/// ```
#[derive(Clone)]
pub struct WorkerName {
    base: Base,
    index: Option<usize>,
}

/// The base of a [`WorkerName`]: fixed when the program is compiled, or
/// built at run time and shared by the workers of one group.
#[derive(Clone)]
enum Base {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Base {
    #[inline]
    fn as_str(&self) -> &str {
        match self {
            Base::Static(base) => base,
            Base::Shared(base) => base,
        }
    }
}

/// What `name = EXPR` takes: any string, read once (see
/// [`WorkerName::dynamic`]).
#[diagnostic::on_unimplemented(
    message = "`name` takes a string: `{Self}` is not a `&str` or a `String`",
    label = "not a string",
    note = "turn it into one first, for example `name = format!(\"req-{{}}\", id)`; the name is read once, before the workers start"
)]
pub trait NameText {
    /// The text of the name.
    fn name_text(&self) -> &str;
}

impl<T: AsRef<str> + ?Sized> NameText for T {
    #[inline]
    fn name_text(&self) -> &str {
        self.as_ref()
    }
}

impl WorkerName {
    /// A worker named `base`.
    pub const fn new(base: &'static str) -> Self {
        WorkerName {
            base: Base::Static(base),
            index: None,
        }
    }

    /// The worker for item `index` of a group named `base`: `base-index`.
    pub const fn indexed(base: &'static str, index: usize) -> Self {
        WorkerName {
            base: Base::Static(base),
            index: Some(index),
        }
    }

    /// A worker named by a string known only at run time (`name = EXPR` in
    /// the macros): `&str`, `String`, `&String`, `Arc<str>`, `Cow<str>`,
    /// anything that is [`AsRef<str>`]. The text is copied once into a
    /// shared string (one allocation), so `base` stays the caller's, and the
    /// copy is freed with the last name that holds it: naming every request
    /// of a server this way does not grow its memory.
    ///
    /// ```
    /// use fanout::WorkerName;
    ///
    /// let user = String::from("alice");
    /// let name = WorkerName::dynamic(&user).with_index(0);
    /// assert_eq!(name.to_string(), "alice-0");
    /// assert_eq!(user, "alice"); // still the caller's
    /// ```
    pub fn dynamic<S: NameText + ?Sized>(base: &S) -> Self {
        WorkerName {
            base: Base::Shared(Arc::from(base.name_text())),
            index: None,
        }
    }

    /// This name's base with `index` appended.
    #[must_use]
    #[inline]
    pub fn with_index(&self, index: usize) -> Self {
        WorkerName {
            base: self.base.clone(),
            index: Some(index),
        }
    }

    /// The base of the name, without the index.
    #[inline]
    pub fn base(&self) -> &str {
        self.base.as_str()
    }

    /// The 0-based item index, in the loop form and in pools.
    pub const fn index(&self) -> Option<usize> {
        self.index
    }
}

impl PartialEq for WorkerName {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.base() == other.base()
    }
}

impl Eq for WorkerName {}

impl Hash for WorkerName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.base().hash(state);
        self.index.hash(state);
    }
}

impl fmt::Display for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}-{index}", self.base()),
            None => f.write_str(self.base()),
        }
    }
}

impl fmt::Debug for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkerName({self})")
    }
}

// The current name, kept as two cells so that a pool worker running many
// items in a row updates only the index: one store per item. The base is
// moved in and out of its cell, never cloned, when a worker starts and ends.
// The cell does not drop what it holds (`ManuallyDrop`), so that a thread
// need not register a destructor for it (some 700 instructions per thread of
// spawn_threads!): what a guard takes out it drops, and a thread ends with
// the cell empty, unless a `NameGuard` was forgotten.
thread_local! {
    static CURRENT_BASE: Cell<ManuallyDrop<Option<Base>>> = const { Cell::new(ManuallyDrop::new(None)) };
    static CURRENT_INDEX: Cell<Index> = const { Cell::new(Index::None) };
}

/// The index of the current name, as `CURRENT_INDEX` keeps it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Index {
    /// A name without an index.
    None,
    /// This index.
    At(usize),
    /// A pool worker in its hot loop: the index is that of the slot being
    /// written ([`writing_index`](crate::sys::slots::writing_index)), so
    /// that the loop stores one index per item, not two.
    #[cfg(feature = "pool")]
    Writing,
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

/// The current worker's name (without allocating: a dynamic base is shared);
/// see [`current_name`].
#[inline]
pub fn current_worker() -> Option<WorkerName> {
    let base = CURRENT_BASE.with(|cell| {
        let base = cell.take();
        let copy = Option::clone(&base);
        cell.set(base);
        copy
    })?;
    let index = match CURRENT_INDEX.with(Cell::get) {
        Index::None => None,
        Index::At(index) => Some(index),
        #[cfg(feature = "pool")]
        Index::Writing => Some(crate::sys::slots::writing_index()),
    };
    Some(WorkerName { base, index })
}

/// Makes `name` the current worker name until the guard is dropped, then
/// restores the previous one (workers nest: a pool inside a thread).
///
/// The runtime sets this around every task; call it yourself only when you
/// build your own workers on top of the runtime.
#[inline]
pub fn enter(name: WorkerName) -> NameGuard {
    let index = name.index.map_or(Index::None, Index::At);
    NameGuard {
        base: CURRENT_BASE.with(|cell| {
            ManuallyDrop::into_inner(cell.replace(ManuallyDrop::new(Some(name.base))))
        }),
        index: CURRENT_INDEX.with(|cell| cell.replace(index)),
    }
}

/// Makes item `index` of the current name's base the current worker, without
/// a guard: for a pool worker that runs many items in a row inside one
/// [`enter`] (whose guard restores the name from before), and for the
/// futures of a loop-form gather!, polled inside one.
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
#[inline]
pub(crate) fn set_current_index(index: usize) {
    CURRENT_INDEX.with(|c| c.set(Index::At(index)));
}

/// Makes the item whose slot this thread is writing the current worker
/// (inside [`Writer::write_while`](crate::sys::slots::Writer::write_while),
/// which keeps its index), as [`set_current_index`] does for one index: a
/// pool worker calls it before each item. Only a load when it is so already
/// (an item that forgot a [`NameGuard`] changed it: the next item is named
/// right all the same).
#[cfg(feature = "pool")]
#[inline]
pub(crate) fn index_from_writer() {
    CURRENT_INDEX.with(|c| {
        if c.get() != Index::Writing {
            c.set(Index::Writing);
        }
    });
}

/// Restores the previous worker name when dropped; see [`enter`].
#[must_use = "the name is reset as soon as the guard is dropped"]
pub struct NameGuard {
    base: Option<Base>,
    index: Index,
}

impl Drop for NameGuard {
    #[inline]
    fn drop(&mut self) {
        let base = self.base.take();
        // Ours, taken out of the cell, is dropped here.
        drop(
            CURRENT_BASE
                .with(|cell| ManuallyDrop::into_inner(cell.replace(ManuallyDrop::new(base)))),
        );
        CURRENT_INDEX.with(|cell| cell.set(self.index));
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
/// assert!(counts.iter().any(|&count| count != counts[0])); // four samples, not one four times
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
