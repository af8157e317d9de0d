//! Output slots written in place by many workers: the one piece of unsafe
//! code the map engine needs, on rayon's `CollectResult` model.
//!
//! A [`Slots`] is a buffer of `len` uninitialized values. Workers write it
//! through [`Writer`]s, each claimed for its own range of indices (claims
//! never overlap: they come from one cursor). A writer counts the slots it
//! wrote in a field of its own, never in state that other code can write
//! (inside [`Writer::write_while`] the count is a thread-local private to
//! this module, which only `write_while` sets and restores, and which it
//! checks before it takes it back), and registers the runs it wrote when it
//! is dropped. The buffer becomes a `Vec`
//! only if the registered runs cover every index; otherwise the registered
//! values are dropped and the rest is left alone. Forgetting a writer leaks
//! its values and leaves its indices missing: never undefined behaviour.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `len` slots, written through [`Writer`]s.
pub(crate) struct Slots<T> {
    /// The buffer, as the raw parts of a `Vec<MaybeUninit<T>>` of length
    /// `len` (writers write through this pointer from `&self`, so it is taken
    /// once, from `Vec::as_mut_ptr`).
    ptr: *mut MaybeUninit<T>,
    len: usize,
    capacity: usize,
    /// The first index not claimed yet.
    claimed: AtomicUsize,
    /// The runs of written slots, registered by the writers that wrote them.
    runs: Mutex<Vec<Range<usize>>>,
}

// SAFETY: the slots hold `T`s that writers on other threads put there
// (`T: Send`); through `&Slots` a thread only writes slots of its own claimed
// range (see `Writer::write`), and reads none.
unsafe impl<T: Send> Sync for Slots<T> {}
// SAFETY: `Slots<T>` owns its buffer of `T`s, as a `Vec<T>` would.
unsafe impl<T: Send> Send for Slots<T> {}

impl<T> Slots<T> {
    /// `len` empty slots.
    pub(crate) fn new(len: usize) -> Self {
        let mut buf: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        buf.resize_with(len, MaybeUninit::uninit);
        let mut buf = std::mem::ManuallyDrop::new(buf);
        Slots {
            ptr: buf.as_mut_ptr(),
            len,
            capacity: buf.capacity(),
            claimed: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
        }
    }

    /// Gives the buffer's whole pages back to the system
    /// ([`release_pages`](super::release_pages)) before any slot is
    /// claimed: for a map that forks its workers next, so that the parent's
    /// writes of the outputs do not copy pages the workers share.
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn release_pages(&mut self) {
        if *self.claimed.get_mut() != 0 {
            return;
        }
        let bytes = self.capacity * std::mem::size_of::<T>();
        // SAFETY: the buffer is `capacity` slots of `MaybeUninit<T>`, of
        // which none is claimed, so none was written: its `bytes` bytes are
        // uninitialized memory that `&mut self` borrows exclusively.
        let buffer =
            unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<MaybeUninit<u8>>(), bytes) };
        super::release_pages(buffer);
    }

    /// Whether some slots were not claimed yet.
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn has_unclaimed(&self) -> bool {
        self.claimed.load(Ordering::Relaxed) < self.len
    }

    /// Claims the next `count` slots (fewer at the end), or `None` when all
    /// were claimed.
    pub(crate) fn claim(&self, count: usize) -> Option<Writer<'_, T>> {
        let len = self.len;
        let mut start = self.claimed.load(Ordering::Relaxed);
        loop {
            if start >= len || count == 0 {
                return None;
            }
            let end = start + count.min(len - start);
            match self.claimed.compare_exchange_weak(
                start,
                end,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Writer {
                        slots: self,
                        end,
                        next: start,
                        run_start: start,
                    });
                }
                Err(now) => start = now,
            }
        }
    }

    /// The indices no writer registered, in increasing order.
    pub(crate) fn missing(&mut self) -> Vec<usize> {
        let runs = self.sorted_runs();
        let mut missing = Vec::new();
        let mut at = 0;
        for run in &runs {
            missing.extend(at..run.start);
            at = run.end;
        }
        missing.extend(at..self.len);
        missing
    }

    /// Writes `value(k)` into every slot no writer registered.
    pub(crate) fn fill_missing(&mut self, mut value: impl FnMut(usize) -> T) {
        for k in self.missing() {
            let value = value(k);
            // SAFETY: `k < len` (from `missing`), and the slot was not
            // registered, so it holds no value to overwrite; `&mut self`
            // means no writer is alive.
            unsafe { (*self.ptr.add(k)).write(value) };
            self.register(k..k + 1);
        }
    }

    /// Every value, if every slot was written and registered.
    pub(crate) fn into_vec(mut self) -> Result<Vec<T>, Self> {
        let runs = self.sorted_runs();
        let mut at = 0;
        for run in &runs {
            if run.start != at {
                return Err(self);
            }
            at = run.end;
        }
        if at != self.len {
            return Err(self);
        }
        let this = std::mem::ManuallyDrop::new(self);
        // The runs' own allocation is freed; the buffer is handed over.
        // SAFETY: `this` is never used again nor dropped.
        drop(unsafe { std::ptr::read(&this.runs) });
        // SAFETY: every one of the `len` slots was written (the registered
        // runs, which only writers of disjoint claims add, cover `0..len`
        // without gaps), and `MaybeUninit<T>` has the layout of `T`; the
        // pointer, length and capacity are those of the `Vec` made in `new`,
        // handed over whole: `this` is not dropped.
        Ok(unsafe { Vec::from_raw_parts(this.ptr.cast::<T>(), this.len, this.capacity) })
    }

    fn register(&self, run: Range<usize>) {
        if !run.is_empty() {
            self.runs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(run);
        }
    }

    fn runs_mut(&mut self) -> &mut Vec<Range<usize>> {
        self.runs.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn sorted_runs(&mut self) -> Vec<Range<usize>> {
        let runs = self.runs_mut();
        runs.sort_by_key(|run| run.start);
        runs.clone()
    }
}

impl<T> Drop for Slots<T> {
    fn drop(&mut self) {
        let runs = std::mem::take(self.runs_mut());
        for run in runs {
            for k in run {
                // SAFETY: registered runs hold written values inside the
                // buffer, each registered once (claims are disjoint and a
                // writer registers each index it wrote once), dropped here once.
                unsafe { (*self.ptr.add(k)).assume_init_drop() };
            }
        }
        // SAFETY: the raw parts of the `Vec` made in `new`; its
        // `MaybeUninit` elements need no drop.
        drop(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.capacity) });
    }
}

#[cfg(feature = "pool")]
thread_local! {
    /// The index of the slot that [`Writer::write_while`] is producing on
    /// this thread (its `value_at` is running), or what it was outside.
    static WRITING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The index of the slot that [`Writer::write_while`] is producing on this
/// thread: the item a pool worker is running, for its name. Meaningful only
/// inside `write_while`'s `value_at`.
#[cfg(feature = "pool")]
#[inline]
pub(crate) fn writing_index() -> usize {
    WRITING.with(std::cell::Cell::get)
}

/// The right to write the slots of one claimed range, in increasing order.
pub(crate) struct Writer<'a, T> {
    slots: &'a Slots<T>,
    end: usize,
    /// The index the next `write` or `skip` is for.
    next: usize,
    /// The start of the run being written (`run_start..next`).
    run_start: usize,
}

impl<T> Writer<'_, T> {
    /// The index the next value is for.
    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.next
    }

    /// The end of the claimed range.
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// Whether every slot of the range was written or skipped.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.next >= self.end
    }

    /// Writes the slot at [`index`](Writer::index) and moves on.
    ///
    /// # Panics
    /// When the range is done.
    #[inline]
    pub(crate) fn write(&mut self, value: T) {
        assert!(
            self.next < self.end,
            "fanout: a slot writer ran past its range"
        );
        // SAFETY: `next` is inside this writer's claimed range (checked
        // above), which no other writer was given; the slot is written once
        // (`next` only increases) and read by nobody until the writer
        // registered it.
        unsafe { (*self.slots.ptr.add(self.next)).write(value) };
        self.next += 1;
    }

    /// [`write`](Writer::write)s the values `value()` gives for the next
    /// slots in turn, until it gives `None` or the range is done.
    ///
    /// The position lives in a local through the loop (a register, whatever
    /// `value` does to memory). The one store per value is to this thread's
    /// [`writing_index`], the index `value` is called for (a worker's name
    /// reads it), which nothing but this function writes: it sets it before
    /// each call, restores the caller's value when it returns or unwinds (a
    /// `value` may run another `write_while`), and takes
    /// [`index`](Writer::index) from it, so that a panic in `value` leaves
    /// `index` at the item that panicked.
    #[cfg(feature = "pool")]
    #[inline]
    pub(crate) fn write_while(&mut self, mut value: impl FnMut() -> Option<T>) {
        /// Puts the position back in the writer, by unwinding too.
        struct Resume<'w> {
            next: &'w mut usize,
            end: usize,
            outer: usize,
        }
        impl Drop for Resume<'_> {
            #[inline]
            fn drop(&mut self) {
                let at = WRITING.replace(self.outer);
                // Only this function sets `WRITING`, each call restoring the
                // value it found: here it is a position of this range, at or
                // after where the loop began. Checked all the same, since
                // the writer trusts it for which slots hold values.
                assert!(
                    (*self.next..=self.end).contains(&at),
                    "fanout: a slot writer lost its position"
                );
                *self.next = at;
            }
        }
        let (ptr, end) = (self.slots.ptr, self.end);
        let mut next = self.next;
        let outer = WRITING.replace(next);
        let _resume = Resume {
            next: &mut self.next,
            end,
            outer,
        };
        while next < end {
            let Some(value) = value() else {
                return;
            };
            // SAFETY: as in `write`: `next` is inside this writer's claimed
            // range (`next < end`), which no other writer was given, and it
            // only increases.
            unsafe { (*ptr.add(next)).write(value) };
            next += 1;
            WRITING.set(next);
        }
    }

    /// Leaves the slot at [`index`](Writer::index) empty and moves on.
    #[inline]
    pub(crate) fn skip(&mut self) {
        if self.next < self.end {
            self.close_run();
            self.next += 1;
            self.run_start = self.next;
        }
    }

    fn close_run(&mut self) {
        self.slots.register(self.run_start..self.next);
        self.run_start = self.next;
    }
}

impl<T> Drop for Writer<'_, T> {
    fn drop(&mut self) {
        self.close_run();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_slots_become_a_vec() {
        let slots = Slots::new(5);
        let mut a = slots.claim(3).unwrap();
        let mut b = slots.claim(3).unwrap();
        assert!(slots.claim(1).is_none());
        assert_eq!((a.index(), b.index(), b.end()), (0, 3, 5));
        for k in 0..3 {
            a.write(k.to_string());
        }
        b.write("3".into());
        b.write("4".into());
        drop((a, b));
        assert_eq!(slots.into_vec().ok().unwrap(), ["0", "1", "2", "3", "4"]);
    }

    #[test]
    fn gaps_are_missing_and_written_values_are_dropped_once() {
        use std::rc::Rc;
        let value = Rc::new(());
        let mut slots = Slots::new(4);
        {
            let mut w = slots.claim(4).unwrap();
            w.write(Rc::clone(&value));
            w.skip();
            w.write(Rc::clone(&value));
        }
        assert_eq!(Rc::strong_count(&value), 3);
        assert_eq!(slots.missing(), [1, 3]);
        let slots = slots.into_vec().err().unwrap();
        drop(slots);
        assert_eq!(Rc::strong_count(&value), 1);
    }

    #[test]
    fn a_forgotten_writer_leaks_but_leaves_its_slots_missing() {
        let mut slots = Slots::new(2);
        let mut w = slots.claim(2).unwrap();
        w.write(vec![1]);
        std::mem::forget(w);
        assert_eq!(slots.missing(), [0, 1]);
        slots.fill_missing(|k| vec![k]);
        assert_eq!(slots.into_vec().ok().unwrap(), [vec![0], vec![1]]);
    }

    #[test]
    #[should_panic(expected = "ran past its range")]
    fn a_writer_cannot_write_past_its_range() {
        let slots = Slots::new(1);
        let mut w = slots.claim(1).unwrap();
        w.write(1);
        w.write(2);
    }
}
