//! [`MapOptions`]: the options of every map, on every backend.

use std::time::Duration;

/// The options of a map (`pool_map!(f, items; workers = 4, chunksize = 100,
/// timeout = ...)`), the same on threads, processes and MPI.
///
/// ```
/// use std::time::Duration;
/// use fanout::map::MapOptions;
///
/// let options = MapOptions::new().workers(4).chunksize(10).timeout(Duration::from_secs(5));
/// assert_eq!(options.worker_count(), 4);
/// assert_eq!(options.chunk_for(1000), 10);
/// assert_eq!(MapOptions::new().workers(2).chunk_for(80), 10); // about 4 chunks per worker
/// ```
#[derive(Clone, Debug, Default)]
pub struct MapOptions {
    workers: Option<usize>,
    chunksize: Option<usize>,
    timeout: Option<Duration>,
    progress: bool,
    timeline: bool,
    buffer: Option<usize>,
    recycle: Option<usize>,
}

impl MapOptions {
    /// The default options: as many workers as the machine runs in parallel,
    /// about four chunks per worker, no deadline, no report.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `workers` items run at once, and `min(workers, items)` run
    /// from the start (`max_workers=` in Python).
    ///
    /// # Panics
    /// If `workers` is 0 (the panic points at the caller).
    #[must_use]
    #[track_caller]
    pub fn workers(mut self, workers: usize) -> Self {
        assert!(
            workers > 0,
            "fanout: `workers = 0`: a pool needs at least one worker"
        );
        self.workers = Some(workers);
        self
    }

    /// A worker takes `chunksize` consecutive items at a time (`chunksize=`
    /// in Python); the answers still come back item by item.
    ///
    /// # Panics
    /// If `chunksize` is 0 (the panic points at the caller).
    #[must_use]
    #[track_caller]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        assert!(
            chunksize > 0,
            "fanout: `chunksize = 0`: a chunk holds at least one item"
        );
        self.chunksize = Some(chunksize);
        self
    }

    /// No item starts after `timeout` (from the start of the map); process
    /// items still running then are killed and reaped, thread and MPI items
    /// finish. Items that never started are timed out.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shows a progress bar on stderr while the map runs.
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Prints a chart of when each item ran on stderr once the map is over.
    #[must_use]
    pub fn timeline(mut self, on: bool) -> Self {
        self.timeline = on;
        self
    }

    /// A stream ([`stream_in_order`](super::stream_in_order),
    /// [`stream_unordered`](super::stream_unordered)) takes at most `buffer`
    /// items ahead of what it yielded (Python's `map(buffersize=)`); by
    /// default twice the workers.
    ///
    /// # Panics
    /// If `buffer` is 0 (the panic points at the caller).
    #[must_use]
    #[track_caller]
    pub fn buffer(mut self, buffer: usize) -> Self {
        assert!(
            buffer > 0,
            "fanout: `buffer = 0`: a stream takes at least one item at a time"
        );
        self.buffer = Some(buffer);
        self
    }

    /// A worker process exits after `items` items and a fresh one takes over
    /// (Python's `max_tasks_per_child`); processes only. A chunk then holds
    /// at most `items` items.
    ///
    /// # Panics
    /// If `items` is 0 (the panic points at the caller).
    #[must_use]
    #[track_caller]
    pub fn recycle(mut self, items: usize) -> Self {
        assert!(
            items > 0,
            "fanout: `recycle = 0`: a worker process runs at least one item"
        );
        self.recycle = Some(items);
        self
    }

    /// How many items a stream takes ahead of what it yielded: the `buffer`
    /// option, or twice the workers.
    pub fn buffer_for_stream(&self) -> usize {
        self.buffer.unwrap_or_else(|| 2 * self.worker_count())
    }

    /// The `recycle` option as given.
    pub fn recycle_option(&self) -> Option<usize> {
        self.recycle
    }

    /// The number of workers: the `workers` option, or the machine's
    /// available parallelism.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(default_workers)
    }

    /// The `workers` option as given.
    pub fn workers_option(&self) -> Option<usize> {
        self.workers
    }

    /// The chunk size for `len` items: the `chunksize` option, or about four
    /// chunks per worker.
    pub fn chunk_for(&self, len: usize) -> usize {
        let chunk = self
            .chunksize
            .unwrap_or_else(|| len.div_ceil(self.worker_count() * 4));
        chunk.min(self.recycle.unwrap_or(usize::MAX)).max(1)
    }

    /// The `chunksize` option as given.
    pub fn chunksize_option(&self) -> Option<usize> {
        self.chunksize
    }

    /// The deadline, from the start of the map.
    pub fn timeout_option(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the progress bar is on.
    pub fn progress_enabled(&self) -> bool {
        self.progress
    }

    /// Whether the timeline is on.
    pub fn timeline_enabled(&self) -> bool {
        self.timeline
    }
}

/// The machine's available parallelism (at least 1).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
