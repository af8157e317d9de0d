//! Worker names: [`WorkerName`] and [`current_name`].

use std::cell::Cell;
use std::fmt;

/// The name of one worker: a base (`worker`, `print_numbers`, or the `name = "..."`
/// option) and, in the loop form and in pools, the 0-based index of the item.
///
/// Names are cheap to copy, so setting the current name costs nothing measurable
/// even for millions of pool items or futures.
///
/// ```
/// use fanout_runtime::WorkerName;
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

thread_local! {
    static CURRENT: Cell<Option<WorkerName>> = const { Cell::new(None) };
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
    CURRENT.with(|c| c.get()).map(|name| name.to_string())
}

/// The current worker's name without allocating; see [`current_name`].
pub fn current_worker() -> Option<WorkerName> {
    CURRENT.with(|c| c.get())
}

/// Makes `name` the current worker name until the guard is dropped, then
/// restores the previous one (workers nest: a pool inside a thread).
///
/// The runtime sets this around every task; call it yourself only when you
/// build your own workers on top of the runtime.
pub fn enter(name: WorkerName) -> NameGuard {
    let previous = CURRENT.with(|c| c.replace(Some(name)));
    NameGuard { previous }
}

/// Restores the previous worker name when dropped; see [`enter`].
#[must_use = "the name is reset as soon as the guard is dropped"]
pub struct NameGuard {
    previous: Option<WorkerName>,
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}
