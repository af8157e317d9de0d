//! A byte ring in memory shared between the parent and one forked pool
//! worker: the worker publishes each item's answer there as the item ends, so
//! that answers are out of the worker's own memory at once (a crash loses
//! none) without a system call per item.
//!
//! The worker writes bytes at `write % capacity` and publishes them by
//! storing the new `write` position; the parent copies published bytes out
//! into its own buffer and frees them by storing `read`. Everything in the
//! mapping can be changed by the worker (and by the task it runs) at any
//! time, so the parent treats it as untrusted: positions are checked before
//! use, and bytes are copied out before they are parsed.

use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The header's size: the positions and flags, each on its own cache line.
const HEADER: usize = 256;

/// How many bytes of its ring a worker maps at once; see [`Ring::map_ahead`].
const MAP_AHEAD: usize = 64 << 10;

/// The page size `map_ahead` assumes (larger pages make its call fail,
/// harmlessly).
const PAGE: usize = 4096;

/// Each line is written by one side only: the worker's stores per item go to
/// one cache line.
#[repr(C)]
struct Header {
    /// Bytes published by the worker since the start.
    write: AtomicU64,
    /// The worker's item in progress, plus one (0: none yet): after the
    /// worker died, whether the item the parent waits for had started.
    started: AtomicU64,
    _pad1: [u8; 48],
    /// Bytes taken by the parent since the start.
    read: AtomicU64,
    _pad2: [u8; 56],
    /// Set by the parent before it sleeps: the worker then sends a wake-up.
    parent_waiting: AtomicU32,
}

/// A shared ring; see the [module](self). Made in the parent before the fork;
/// the worker uses its copy of the same mapping.
pub(crate) struct Ring {
    base: NonNull<u8>,
    capacity: usize,
    /// The process that made the mapping: only it may use it again.
    owner: u32,
    /// The worker's last look at the parent's `read` (never ahead of it):
    /// the worker reads the parent's cache line again only when the space
    /// it knows of is not enough.
    seen_read: Cell<u64>,
    /// How many data bytes from the start the worker has mapped ahead
    /// ([`Ring::map_ahead`]).
    mapped: Cell<usize>,
}

/// Rings whose worker ended, kept for the next workers of this process: their
/// pages are already in memory, so a new worker's answers cost no page fault.
static SPARE: std::sync::Mutex<Vec<Ring>> = std::sync::Mutex::new(Vec::new());

/// How many spare rings a process keeps.
const SPARES: usize = 8;

// SAFETY: the ring is a mapping that lives until `Ring` is dropped; its
// header is made of atomics, and its data bytes are only copied (as plain
// bytes) by `push` in the one worker process and `copy_out` in the parent.
unsafe impl Send for Ring {}

/// What the parent found in a ring.
pub(crate) enum Published {
    /// Bytes from `read` to `write` are published.
    Bytes { read: u64, write: u64 },
    /// The positions make no sense: the worker (or its task) broke the ring.
    Broken,
}

impl Ring {
    /// A ring of `capacity` data bytes (a power of two): a spare one of this
    /// process if there is one (its worker is gone), or a new mapping.
    pub(crate) fn new(capacity: usize) -> io::Result<Self> {
        assert!(capacity.is_power_of_two());
        let pid = std::process::id();
        let spare = {
            // The spare rings are only touched under the fork lock, so that no
            // child is forked while another thread holds their lock.
            let _fork = super::ForkLock::acquire();
            let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
            let index = spare
                .iter()
                .position(|ring| ring.owner == pid && ring.capacity == capacity);
            // A forked child keeps none of its parent's: the parent goes on
            // using them (dropping a copy only unmaps it here).
            spare.retain(|ring| ring.owner == pid);
            index.and_then(|_| {
                let index = spare.iter().position(|ring| ring.capacity == capacity)?;
                Some(spare.swap_remove(index))
            })
        };
        if let Some(ring) = spare {
            ring.seen_read.set(0);
            ring.mapped.set(0);
            let header = ring.header();
            header.write.store(0, Ordering::Relaxed);
            header.read.store(0, Ordering::Relaxed);
            header.parent_waiting.store(0, Ordering::Relaxed);
            header.started.store(0, Ordering::Relaxed);
            return Ok(ring);
        }
        let bytes = HEADER + capacity;
        // SAFETY: an anonymous shared mapping at an address of the kernel's
        // choice: it aliases nothing of ours. Zeroed by the kernel, which is
        // a valid `Header` (all atomics at 0).
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
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Ring {
            base,
            capacity,
            owner: pid,
            seen_read: Cell::new(0),
            mapped: Cell::new(0),
        })
    }

    /// Gives back the ring of a worker that was reaped (no process but this
    /// one maps it any more), for the next worker.
    pub(crate) fn recycle(self) {
        if self.owner != std::process::id() {
            return;
        }
        let _fork = super::ForkLock::acquire();
        let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARES {
            spare.push(self);
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with a page-aligned, zero-initialised
        // `Header` of atomics (valid in any state) and lives as long as `self`.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data bytes follow the header inside the mapping.
        unsafe { self.base.as_ptr().add(HEADER) }
    }

    // ---- the worker's side

    /// Free bytes, for the worker: at least `need` if there are that many.
    fn free(&self, write: u64, need: usize) -> usize {
        let known = self.free_since(write, self.seen_read.get());
        if known >= need {
            return known;
        }
        let read = self.header().read.load(Ordering::Acquire);
        self.seen_read.set(read);
        self.free_since(write, read)
    }

    /// Free bytes between the parent's position `read` and `write`.
    #[inline]
    fn free_since(&self, write: u64, read: u64) -> usize {
        let used = write.wrapping_sub(read);
        self.capacity
            .saturating_sub(usize::try_from(used).unwrap_or(usize::MAX))
    }

    /// Appends `bytes` (worker only) without publishing them; waits, calling
    /// `wait` between tries, while the ring is full (publishing what it holds
    /// first, so that the parent can take it: `wait(true)` if the parent
    /// must be woken to do so: once each time it finds the ring full after
    /// the parent took some, and whenever the parent asked).
    /// Returns the new write position.
    #[inline]
    pub(crate) fn push(&self, write: u64, bytes: &[u8], wait: &mut dyn FnMut(bool)) -> u64 {
        if let Some(at) = self.in_line(write, bytes.len()) {
            // SAFETY: as in `push_slow`: `at..at + bytes.len()` lies inside
            // the data area and holds free bytes (`in_line`); `bytes` does
            // not overlap it.
            unsafe { copy_bytes(bytes.as_ptr(), self.data().add(at), bytes.len()) };
            return write + bytes.len() as u64;
        }
        self.push_slow(write, bytes, wait)
    }

    /// Where `len` bytes at `write` go in the common case of a push, done
    /// in line: the room is known, the bytes are in one piece and mapped.
    #[inline]
    fn in_line(&self, write: u64, len: usize) -> Option<usize> {
        let at = (write as usize) & (self.capacity - 1);
        let end = at + len;
        let known_free = self.free_since(write, self.seen_read.get());
        (len <= known_free && end <= self.capacity && end <= self.mapped.get()).then_some(at)
    }

    /// [`push`](Ring::push)es the 9 bytes of the frame `tag` + `word` (its
    /// 8 bytes little-endian): in the common case as two stores of words made
    /// in registers (a frame built in memory byte by byte and read back as
    /// words stalls the store-to-load forwarding, a third of a cheap item).
    #[inline]
    pub(crate) fn push_tagged(
        &self,
        write: u64,
        tag: u8,
        word: u64,
        wait: &mut dyn FnMut(bool),
    ) -> u64 {
        if let Some(at) = self.in_line(write, 9) {
            let head = u64::from(tag) | (word << 8);
            // SAFETY: as in `push_slow`: `at..at + 9` lies inside the data
            // area and holds free bytes (`in_line`). Bytes `at..at + 8` get the tag and
            // the word's first 7 bytes, `at + 1..at + 9` the whole word (the
            // overlap written twice with the same bytes); unaligned writes
            // need no alignment.
            unsafe {
                let to = self.data().add(at);
                to.cast::<u64>().write_unaligned(head.to_le());
                to.add(1).cast::<u64>().write_unaligned(word.to_le());
            }
            return write + 9;
        }
        let mut frame = [0u8; 9];
        frame[0] = tag;
        frame[1..].copy_from_slice(&word.to_le_bytes());
        self.push_slow(write, &frame, wait)
    }

    /// [`push`](Ring::push) when the ring may be full, wraps, or is not
    /// mapped that far yet.
    #[inline(never)]
    fn push_slow(&self, mut write: u64, mut bytes: &[u8], wait: &mut dyn FnMut(bool)) -> u64 {
        // The parent's read position at the last wake-up: it is woken once
        // each time it finds the ring full again, not at every try.
        let mut woken_at = None;
        while !bytes.is_empty() {
            let free = self.free(write, bytes.len());
            if free == 0 {
                // The parent may be waiting for the end of a range, or
                // asleep: it is woken to take what the ring holds, whether
                // it asked for answers as they come or not.
                let asked = self.publish(write);
                let read = self.seen_read.get();
                wait(asked || woken_at != Some(read));
                woken_at = Some(read);
                continue;
            }
            let at = (write as usize) & (self.capacity - 1);
            let n = bytes.len().min(free).min(self.capacity - at);
            self.map_ahead(at + n);
            // SAFETY: `at..at + n` lies inside the data area (`at + n <=
            // capacity`); these bytes are free (not published, not being
            // copied out by the parent, which only reads published bytes).
            // `bytes` holds at least `n` bytes, and the two do not overlap.
            unsafe { copy_bytes(bytes.as_ptr(), self.data().add(at), n) };
            write += n as u64;
            bytes = &bytes[n..];
        }
        write
    }

    /// Maps the data pages up to `end` into the worker, [`MAP_AHEAD`] bytes
    /// at a time, if not done yet. A forked worker inherits the shared
    /// mapping but not its page table entries, so each page it writes the
    /// first time is a page fault (a fault per 4 KiB of answers, a third of
    /// a worker's time on cheap items); one `madvise` maps a window of them.
    #[inline]
    fn map_ahead(&self, end: usize) {
        let mapped = self.mapped.get();
        if end <= mapped {
            return;
        }
        let to = end.next_multiple_of(MAP_AHEAD).min(self.capacity);
        // The pages holding data bytes `mapped..to`, as offsets in the
        // mapping (whose size the kernel rounded up to whole pages).
        let first = (HEADER + mapped) & !(PAGE - 1);
        let last = (HEADER + to).next_multiple_of(PAGE);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: `first..last` lies inside the mapping (it starts at `base`
        // and spans `HEADER + capacity` bytes rounded up to pages), and
        // `first` is a multiple of 4 KiB (on a system with larger pages the
        // call fails, harmlessly). MADV_POPULATE_WRITE maps the pages and
        // changes no byte; it fails harmlessly on kernels before 5.14 (the
        // pages are then mapped by faults, as without it).
        unsafe {
            libc::madvise(
                self.base.as_ptr().add(first).cast(),
                last - first,
                libc::MADV_POPULATE_WRITE,
            )
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (first, last);
        self.mapped.set(to);
    }

    /// Publishes the bytes pushed up to `write` (worker only); `true` if the
    /// parent is asleep and must be woken.
    pub(crate) fn publish(&self, write: u64) -> bool {
        let header = self.header();
        header.write.store(write, Ordering::Release);
        header.parent_waiting.load(Ordering::SeqCst) != 0
            && header.parent_waiting.swap(0, Ordering::SeqCst) != 0
    }

    /// The worker's write position when it starts (the ring is new).
    pub(crate) fn start(&self) -> u64 {
        self.header().write.load(Ordering::Acquire)
    }

    /// Notes that the worker starts item `index` (worker only).
    #[inline]
    pub(crate) fn starting(&self, index: usize) {
        self.header()
            .started
            .store(index as u64 + 1, Ordering::Release);
    }

    /// The item the worker said it started last, if any (parent only; the
    /// worker may have written anything there).
    pub(crate) fn started(&self) -> Option<u64> {
        self.header().started.load(Ordering::Acquire).checked_sub(1)
    }

    /// A handle for a panic hook of the worker (under `panic = "abort"` a
    /// panic ends the process before the worker can answer).
    pub(crate) fn hook(&self) -> RingHook {
        RingHook {
            base: self.base,
            capacity: self.capacity,
        }
    }

    // ---- the parent's side

    /// What the worker published since `read` (the parent's own position).
    pub(crate) fn published(&self, read: u64) -> Published {
        let write = self.header().write.load(Ordering::Acquire);
        match write.checked_sub(read) {
            Some(len) if len <= self.capacity as u64 => Published::Bytes { read, write },
            _ => Published::Broken,
        }
    }

    /// Appends the published bytes `read..write` to `out` and frees them.
    pub(crate) fn take(&self, read: u64, write: u64, out: &mut Vec<u8>) {
        let len = (write - read) as usize;
        debug_assert!(len <= self.capacity);
        out.reserve(len);
        let mut at = (read as usize) & (self.capacity - 1);
        let mut left = len.min(self.capacity);
        while left > 0 {
            let n = left.min(self.capacity - at);
            let start = out.len();
            // SAFETY: `at..at + n` lies inside the data area; `out` has room
            // for `n` more bytes (reserved above). The worker may write these
            // bytes at the same time if it misbehaves: they are plain bytes
            // (any value is a valid `u8`) copied into our own buffer, and
            // whatever they hold is parsed as untrusted input afterwards.
            unsafe {
                std::ptr::copy_nonoverlapping(self.data().add(at), out.as_mut_ptr().add(start), n);
                out.set_len(start + n);
            }
            left -= n;
            at = (at + n) & (self.capacity - 1);
        }
        self.header().read.store(write, Ordering::Release);
    }

    /// Tells the worker that the parent is about to sleep; returns `false` if
    /// bytes were published after `read` meanwhile (do not sleep then).
    pub(crate) fn prepare_sleep(&self, read: u64) -> bool {
        let header = self.header();
        header.parent_waiting.store(1, Ordering::SeqCst);
        header.write.load(Ordering::SeqCst) == read
    }

    /// The parent woke up: no wake-up is needed any more.
    pub(crate) fn awake(&self) {
        self.header().parent_waiting.store(0, Ordering::SeqCst);
    }
}

/// The ring of a worker process, as its panic hook reaches it; see
/// [`Ring::hook`].
pub(crate) struct RingHook {
    base: NonNull<u8>,
    capacity: usize,
}

// SAFETY: a worker process has one thread (the one that runs its items and
// its panic hook), and its ring stays mapped until the process ends (a
// worker never drops its parent's `Ring`).
unsafe impl Send for RingHook {}
// SAFETY: as above: only the worker's one thread uses it.
unsafe impl Sync for RingHook {}

impl RingHook {
    /// Appends `frame` after what the worker published, and publishes it.
    pub(crate) fn send(&self, frame: &[u8]) {
        // Never dropped: the mapping belongs to the worker's `Ring`.
        let ring = std::mem::ManuallyDrop::new(Ring {
            base: self.base,
            capacity: self.capacity,
            owner: 0,
            seen_read: Cell::new(0),
            mapped: Cell::new(0),
        });
        // No socket to wake the parent with here: it wakes by itself.
        let write = ring.push(ring.start(), frame, &mut |_| {
            std::thread::sleep(std::time::Duration::from_micros(100));
        });
        ring.publish(write);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference from
        // `header` outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), HEADER + self.capacity);
        }
    }
}

/// Copies `n` bytes from `from` to `to`. The answers of cheap items are a few
/// bytes: up to 32 are moved as two overlapping words, without the call to
/// `memcpy` that a byte loop becomes (a call per item cost more than the
/// item's whole answer in the cheap-items benchmark).
///
/// # Safety
///
/// `from` is valid for reads and `to` for writes of `n` bytes, and the two
/// ranges do not overlap.
#[inline(always)]
unsafe fn copy_bytes(from: *const u8, to: *mut u8, n: usize) {
    // SAFETY (each block): every access lies inside the `n` bytes of its
    // range: the first word at 0, the second ending at `n`, both of a width
    // at most `n`; unaligned reads and writes need no alignment.
    unsafe {
        match n {
            0 => {}
            1..4 => {
                to.write(from.read());
                to.add(n / 2).write(from.add(n / 2).read());
                to.add(n - 1).write(from.add(n - 1).read());
            }
            4..8 => {
                let (head, tail) = (
                    from.cast::<u32>().read_unaligned(),
                    from.add(n - 4).cast::<u32>().read_unaligned(),
                );
                to.cast::<u32>().write_unaligned(head);
                to.add(n - 4).cast::<u32>().write_unaligned(tail);
            }
            8..=16 => {
                let (head, tail) = (
                    from.cast::<u64>().read_unaligned(),
                    from.add(n - 8).cast::<u64>().read_unaligned(),
                );
                to.cast::<u64>().write_unaligned(head);
                to.add(n - 8).cast::<u64>().write_unaligned(tail);
            }
            17..=32 => {
                let (head, tail) = (
                    from.cast::<u128>().read_unaligned(),
                    from.add(n - 16).cast::<u128>().read_unaligned(),
                );
                to.cast::<u128>().write_unaligned(head);
                to.add(n - 16).cast::<u128>().write_unaligned(tail);
            }
            _ => std::ptr::copy_nonoverlapping(from, to, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parent's side of a ring in a test: takes what was published.
    struct Parent<'r> {
        ring: &'r Ring,
        read: Cell<u64>,
        out: std::cell::RefCell<Vec<u8>>,
    }

    impl<'r> Parent<'r> {
        fn of(ring: &'r Ring) -> Self {
            Parent {
                ring,
                read: Cell::new(0),
                out: std::cell::RefCell::new(Vec::new()),
            }
        }

        fn take(&self) {
            let Published::Bytes { read, write } = self.ring.published(self.read.get()) else {
                panic!("broken")
            };
            self.ring.take(read, write, &mut self.out.borrow_mut());
            self.read.set(write);
        }
    }

    #[test]
    fn bytes_go_round_the_ring() {
        let ring = Ring::new(8).unwrap();
        let mut write = ring.start();
        let mut read = 0;
        let mut out = Vec::new();
        for round in 0..5u8 {
            let bytes = [round; 5];
            write = ring.push(write, &bytes, &mut |_| unreachable!());
            assert!(!ring.publish(write));
            let Published::Bytes { read: r, write: w } = ring.published(read) else {
                panic!("broken")
            };
            ring.take(r, w, &mut out);
            read = w;
        }
        assert_eq!(out.len(), 25);
        assert!(out.chunks(5).enumerate().all(|(k, c)| c == [k as u8; 5]));
    }

    #[test]
    fn tagged_words_are_the_frames_push_would_write_across_wraps_and_windows() {
        // A 64-byte ring (9-byte frames wrap it at every offset) and one of
        // two mapped windows; the parent takes now and then, or when asked.
        for capacity in [64, 2 * MAP_AHEAD] {
            let ring = Ring::new(capacity).unwrap();
            let parent = Parent::of(&ring);
            let take = || parent.take();
            let mut sent = Vec::new();
            let mut write = ring.start();
            let count = 3 * capacity as u64 / 9 + 5;
            for k in 0..count {
                let word = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::MAX << (k % 64));
                let tag = (k % 251) as u8;
                sent.push(tag);
                sent.extend_from_slice(&word.to_le_bytes());
                write = ring.push_tagged(write, tag, word, &mut |_| take());
                ring.publish(write);
                if k % 5 == 0 {
                    take();
                }
            }
            take();
            assert_eq!(*parent.out.borrow(), sent, "capacity {capacity}");
        }
    }

    #[test]
    fn small_and_large_copies_move_every_byte() {
        let from: Vec<u8> = (1..=200u8).collect();
        for n in 0..=from.len() {
            let mut to = vec![0u8; n + 2];
            // SAFETY: `from` has at least `n` bytes, `to[1..]` has `n + 1`.
            unsafe { copy_bytes(from.as_ptr(), to.as_mut_ptr().add(1), n) };
            assert_eq!(&to[1..=n], &from[..n], "{n} bytes");
            assert_eq!((to[0], to[n + 1]), (0, 0), "{n} bytes: wrote outside");
        }
    }

    #[test]
    fn answers_cross_the_mapped_windows() {
        let ring = Ring::new(4 * MAP_AHEAD).unwrap();
        let mut write = ring.start();
        let mut out = Vec::new();
        let mut read = 0;
        for k in 0..(3 * MAP_AHEAD / 7) as u64 {
            let bytes = k.to_le_bytes();
            write = ring.push(write, &bytes[..7], &mut |_| unreachable!());
            ring.publish(write);
            if k % 1000 == 0 || k == (3 * MAP_AHEAD / 7) as u64 - 1 {
                let Published::Bytes { read: r, write: w } = ring.published(read) else {
                    panic!("broken")
                };
                ring.take(r, w, &mut out);
                read = w;
            }
        }
        assert!(ring.mapped.get() >= 3 * MAP_AHEAD);
        assert!(
            out.chunks(7)
                .enumerate()
                .all(|(k, c)| c == &(k as u64).to_le_bytes()[..7])
        );
    }

    #[test]
    fn pieces_of_every_size_wrap_a_small_ring_while_the_parent_lags() {
        // A 64-byte ring; pieces of 0 to 150 bytes (some larger than the
        // ring); the parent takes what was published only now and then, or
        // when the worker waits for room: the worker's idea of the parent's
        // position is stale most of the time.
        let ring = Ring::new(64).unwrap();
        let parent = Parent::of(&ring);
        let take = || parent.take();
        let mut sent = Vec::new();
        let mut write = ring.start();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut waits = 0;
        for piece in 0..2000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 151) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|j| (piece as usize * 131 + j * 7) as u8)
                .collect();
            write = ring.push(write, &bytes, &mut |_| {
                waits += 1;
                take();
            });
            ring.publish(write);
            sent.extend_from_slice(&bytes);
            if seed.is_multiple_of(5) {
                take();
            }
        }
        take();
        assert!(waits > 100, "{waits} waits");
        let out = parent.out.borrow();
        assert_eq!(out.len(), sent.len());
        assert!(*out == sent, "the bytes differ");
    }

    #[test]
    fn a_forged_position_is_broken() {
        let ring = Ring::new(8).unwrap();
        ring.header().write.store(100, Ordering::Release);
        assert!(matches!(ring.published(0), Published::Broken));
        assert!(matches!(ring.published(200), Published::Broken));
    }

    #[test]
    fn the_sleeping_parent_is_woken() {
        let ring = Ring::new(8).unwrap();
        assert!(ring.prepare_sleep(0));
        let write = ring.push(ring.start(), b"ab", &mut |_| unreachable!());
        assert!(ring.publish(write));
        assert!(!ring.publish(write));
    }
}
