//! The items of a process pool as its workers see them: item `k`, taken in
//! increasing order from the copy of the caller's memory each worker has.
//!
//! Any `IntoIterator` is collected into a `Vec` in the caller first
//! ([`map`](super::map) and friends). A range of integers need not be: a
//! worker computes item `k` as `start + k`. [`Items`] picks the way at compile
//! time (autoref specialization), so that `pool_map!` can pass any items:
//!
//! ```
//! use fanout::__private::{WorkerName, pool::PoolOptions, process::{Items, SelectCollected as _, SelectRange as _}};
//!
//! let options = PoolOptions::new().workers(2);
//! let squares = (&&Items::new(0..4u64)).process_select().map_unwrap(&options, WorkerName::new("square"), |x| x * x);
//! let evens = (&&Items::new((0..8).filter(|x| x % 2 == 0))).process_select().map_unwrap(&options, WorkerName::new("half"), |x| x / 2);
//! assert_eq!((squares, evens), (vec![0, 1, 4, 9], vec![0, 1, 2, 3]));
//! ```

use std::ops::Range;

use super::ProcessOutput;
use super::pool::{run, run_unwrap};
use crate::error::Error;
use crate::name::WorkerName;
use crate::pool::PoolOptions;

/// Items a process pool can hand out by index; see the [module](self).
///
/// One item is the `IntoIterator::Item`, so that the item type of a range
/// whose integer type is not inferred yet (`0..8`) is known to be that
/// integer type, as for any iterator: `pool_map!(|x: u32| .., 0..8; processes)`
/// makes it a `Range<u32>`.
pub trait ItemSource: IntoIterator {
    /// How a worker takes its items.
    type Cursor: ItemCursor<Item = Self::Item>;
    /// How many items there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The worker's way to its items (called in the worker, on its copy).
    fn cursor(self) -> Self::Cursor;
}

/// A worker's way to its items.
pub trait ItemCursor {
    /// One item.
    type Item;
    /// Item `k`; `k` only increases from one call to the next. The items
    /// skipped are left alone (not dropped: they belong to the caller).
    fn take(&mut self, k: usize) -> Option<Self::Item>;
}

impl<T> ItemSource for Vec<T> {
    type Cursor = VecCursor<T>;

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn cursor(self) -> VecCursor<T> {
        VecCursor {
            items: self.into_iter(),
            position: 0,
        }
    }
}

/// The cursor of collected items. It has no destructor: the items it never
/// took are forgotten when the worker exits.
pub struct VecCursor<T> {
    items: std::vec::IntoIter<T>,
    /// The index of the item `items.next()` returns.
    position: usize,
}

impl<T> ItemCursor for VecCursor<T> {
    type Item = T;

    #[inline]
    fn take(&mut self, k: usize) -> Option<T> {
        // The items before `k` ran in other workers: forget them, since their
        // destructors belong to the caller.
        while self.position < k {
            std::mem::forget(self.items.next()?);
            self.position += 1;
        }
        if self.position != k {
            return None;
        }
        self.position += 1;
        self.items.next()
    }
}

impl<T> Drop for VecCursor<T> {
    fn drop(&mut self) {
        // Leave the items to the process's end, like those skipped.
        let items = std::mem::replace(&mut self.items, Vec::new().into_iter());
        std::mem::forget(items);
    }
}

/// The cursor of a range of integers: item `k` is `start + k`.
#[derive(Clone, Copy, Debug)]
pub struct RangeCursor<N> {
    start: N,
    len: usize,
}

macro_rules! range_sources {
    ($($int:ty => $unsigned:ty),* $(,)?) => {$(
        impl ItemSource for Range<$int> {
            type Cursor = RangeCursor<$int>;

            fn len(&self) -> usize {
                if self.end > self.start {
                    // The width of the range, which fits the unsigned type.
                    let width = self.end.wrapping_sub(self.start) as $unsigned;
                    usize::try_from(width).unwrap_or_else(|_| too_many_items())
                } else {
                    0
                }
            }

            fn cursor(self) -> RangeCursor<$int> {
                RangeCursor {
                    start: self.start,
                    len: ItemSource::len(&self),
                }
            }
        }

        impl ItemCursor for RangeCursor<$int> {
            type Item = $int;

            #[inline]
            fn take(&mut self, k: usize) -> Option<$int> {
                (k < self.len).then(|| self.start.wrapping_add(k as $int))
            }
        }
    )*};
}

range_sources! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize,
}

fn too_many_items() -> ! {
    panic!("fanout: pool_map! cannot map a range of more than usize::MAX items")
}

/// The items of a `pool_map!(...; processes)`, before the macro picks how
/// the workers get them: the same wrapper as the thread pool's; see the
/// [module](self).
pub use crate::pool::Items;

/// Picks the range items, computed in the workers.
pub trait SelectRange {
    /// The items, ready to map.
    type Selected;
    /// Takes the items out of the wrapper.
    fn process_select(self) -> Self::Selected;
}

/// Picks collected items, for every other `IntoIterator`.
pub trait SelectCollected {
    /// The items, ready to map.
    type Selected;
    /// Takes the items out of the wrapper.
    fn process_select(self) -> Self::Selected;
}

impl<N> SelectRange for &&Items<Range<N>>
where
    Range<N>: ItemSource,
{
    type Selected = Source<Range<N>>;
    fn process_select(self) -> Source<Range<N>> {
        Source(self.take())
    }
}

impl<I: IntoIterator> SelectCollected for &Items<I> {
    type Selected = Source<Vec<I::Item>>;
    fn process_select(self) -> Source<Vec<I::Item>> {
        Source(self.take().into_iter().collect())
    }
}

/// Items ready for a process pool; see [`Items`].
pub struct Source<S>(S);

impl<S: ItemSource> Source<S> {
    /// [`map`](super::map) of these items.
    pub fn map<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<Result<T, Error>>
    where
        F: Fn(S::Item) -> T,
        T: ProcessOutput,
    {
        run(options, base, self.0, &f, None)
    }

    /// [`map_unwrap`](super::map_unwrap) of these items.
    ///
    /// # Panics
    ///
    /// If an item failed; see [`map_unwrap`](super::map_unwrap).
    #[track_caller]
    pub fn map_unwrap<F, T>(self, options: &PoolOptions, base: WorkerName, f: F) -> Vec<T>
    where
        F: Fn(S::Item) -> T,
        T: ProcessOutput,
    {
        run_unwrap(options, base, self.0, &f)
    }

    /// [`try_map`](super::try_map) of these items.
    pub fn try_map<F, T, E>(
        self,
        options: &PoolOptions,
        base: WorkerName,
        f: F,
    ) -> Vec<Result<Result<T, E>, Error>>
    where
        F: Fn(S::Item) -> Result<T, E>,
        T: ProcessOutput,
        E: ProcessOutput,
    {
        run(options, base, self.0, &f, Some(Result::is_err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_cursor() {
        assert_eq!(ItemSource::len(&(-3i8..5)), 8);
        let (high, low) = (5u8, 3u8);
        assert_eq!(ItemSource::len(&(high..low)), 0);
        assert_eq!(ItemSource::len(&(i64::MIN..i64::MAX)), usize::MAX);
        let mut cursor = (-3i8..5).cursor();
        assert_eq!(cursor.take(0), Some(-3));
        assert_eq!(cursor.take(7), Some(4));
        assert_eq!(cursor.take(8), None);
    }

    #[test]
    fn vec_cursor_skips_forward_only() {
        let mut cursor = vec!["a", "b", "c", "d"].cursor();
        assert_eq!(cursor.take(1), Some("b"));
        assert_eq!(cursor.take(1), None);
        assert_eq!(cursor.take(3), Some("d"));
        assert_eq!(cursor.take(4), None);
    }

    #[test]
    fn vec_cursor_never_drops_items() {
        use std::rc::Rc;
        let item = Rc::new(());
        let mut cursor = vec![Rc::clone(&item), Rc::clone(&item), Rc::clone(&item)].cursor();
        let taken = cursor.take(1);
        drop(cursor);
        drop(taken);
        // One taken and dropped; the skipped one and the one left are forgotten.
        assert_eq!(Rc::strong_count(&item), 3);
    }
}
