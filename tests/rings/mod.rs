//! The answer rings of process pool workers, as a test that forges
//! answers sees them from inside a worker (tests/wire.rs, tests/adversarial.rs).

#![allow(dead_code)]

use std::time::Duration;

/// Data bytes of each ring.
pub const RING_CAPACITY: u64 = 1 << 20;

/// The answer rings this process maps (shared, 257 pages: 1 MiB of data and
/// a page of header), from /proc/self/maps.
pub fn rings() -> Vec<*mut u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| line.contains(" rw-s "))
        .filter_map(|line| {
            let (range, _) = line.split_once(' ')?;
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end - start == 257 * 4096).then_some(start as *mut u64)
        })
        .collect()
}

/// The ring of this worker: the one whose write position is `written`.
pub fn my_ring(written: u64) -> Option<*mut u64> {
    // SAFETY: reads the first word of each ring this process maps.
    rings()
        .into_iter()
        .find(|ring| unsafe { ring.read_volatile() } == written)
}

/// Writes `bytes` into the ring as its worker would, waiting for room, and
/// publishes them.
///
/// # Safety
/// `ring` must be an answer ring mapped in this process.
pub unsafe fn push(ring: *mut u64, bytes: &[u8]) {
    // SAFETY: the header's words (write at 0, read at 64 bytes) and the data
    // after the 256-byte header are inside the mapping.
    unsafe {
        let read = ring.cast::<u8>().add(64).cast::<u64>();
        let data = ring.cast::<u8>().add(256);
        let mut write = ring.read_volatile();
        for &byte in bytes {
            while write - read.read_volatile() >= RING_CAPACITY {
                ring.write_volatile(write);
                std::thread::sleep(Duration::from_micros(100));
            }
            data.add((write % RING_CAPACITY) as usize)
                .write_volatile(byte);
            write += 1;
        }
        ring.write_volatile(write);
    }
}
