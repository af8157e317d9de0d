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

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The header's size: the positions and flags, each on its own cache line.
const HEADER: usize = 256;

#[repr(C)]
struct Header {
    /// Bytes published by the worker since the start.
    write: AtomicU64,
    _pad1: [u8; 56],
    /// Bytes taken by the parent since the start.
    read: AtomicU64,
    _pad2: [u8; 56],
    /// Set by the parent before it sleeps: the worker then sends a wake-up.
    parent_waiting: AtomicU32,
    _pad3: [u8; 60],
    /// The worker's item in progress, plus one (0: none yet): after the
    /// worker died, whether the item the parent waits for had started.
    started: AtomicU64,
}

/// A shared ring; see the [module](self). Made in the parent before the fork;
/// the worker uses its copy of the same mapping.
pub(crate) struct Ring {
    base: NonNull<u8>,
    capacity: usize,
    /// The process that made the mapping: only it may use it again.
    owner: u32,
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

    /// Free bytes, for the worker.
    fn free(&self, write: u64) -> usize {
        let read = self.header().read.load(Ordering::Acquire);
        let used = write.wrapping_sub(read);
        self.capacity
            .saturating_sub(usize::try_from(used).unwrap_or(usize::MAX))
    }

    /// Appends `bytes` (worker only) without publishing them; waits, calling
    /// `wait` between tries, while the ring is full (publishing what it holds
    /// first, so that the parent can take it). Returns the new write position.
    pub(crate) fn push(
        &self,
        mut write: u64,
        mut bytes: &[u8],
        wait: &mut dyn FnMut(&Ring),
    ) -> u64 {
        while !bytes.is_empty() {
            let free = self.free(write);
            if free == 0 {
                self.publish(write);
                wait(self);
                continue;
            }
            let at = (write as usize) & (self.capacity - 1);
            let n = bytes.len().min(free).min(self.capacity - at);
            // SAFETY: `at..at + n` lies inside the data area (`at + n <=
            // capacity`); these bytes are free (not published, not being
            // copied out by the parent, which only reads published bytes).
            // The answers of cheap items are a few bytes: copied one by one,
            // without a call.
            unsafe {
                let to = self.data().add(at);
                if n <= 32 {
                    for (k, &byte) in bytes[..n].iter().enumerate() {
                        to.add(k).write(byte);
                    }
                } else {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), to, n);
                }
            }
            write += n as u64;
            bytes = &bytes[n..];
        }
        write
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
        });
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

#[cfg(test)]
mod tests {
    use super::*;

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
