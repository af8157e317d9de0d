//! The items of a map, and how the engine takes them: split by index where
//! they are (integer ranges, vectors, slices, arrays), or collected into a
//! `Vec` first (any other iterator). [`Items`] picks the way at compile time
//! (autoref specialization), so that `pool_map!` accepts any `IntoIterator`
//! and pays for collecting only when it must:
//!
//! ```
//! use fanout::map::{Items, MapOptions, Unwrap, autoref::*};
//! use fanout::WorkerName;
//!
//! let options = MapOptions::new().workers(2);
//! let squares = (&&Items::new(0..4u64)).select().on_threads(&options, Unwrap, WorkerName::new("square"), |x| x * x);
//! let evens = (&&Items::new((0..8).filter(|x| x % 2 == 0))).select().on_threads(&options, Unwrap, WorkerName::new("half"), |x| x / 2);
//! assert_eq!((squares, evens), (vec![0, 1, 4, 9], vec![0, 1, 2, 3]));
//! ```

use std::cell::Cell;
#[cfg(all(unix, feature = "processes"))]
use std::ops::Range;

#[cfg(feature = "pool")]
use rayon::prelude::*;

use super::MapOptions;
use super::mode::Mode;
#[cfg(feature = "pool")]
use super::task::{Plain, WithInit};
use crate::name::WorkerName;

#[cfg(feature = "pool")]
/// Items that the pool splits by index where they are, without first
/// collecting them into a `Vec`: integer ranges, vectors, slices and arrays
/// (what rayon's `IndexedParallelIterator` covers). `pool_map!` picks this
/// path by itself when the items allow it (see [`Items`]); its outputs are the
/// same as with any other iterator.
pub trait IndexedItems: IntoIterator<Item: Send> {
    /// The items as a parallel iterator that rayon splits by index.
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = Self::Item>;
}

#[cfg(feature = "pool")]
/// Ranges of every integer type, driven as `0..len` plus an offset (rayon
/// itself indexes ranges of integers no wider than `usize` only).
macro_rules! range_items {
    ($($int:ty => $unsigned:ty),* $(,)?) => {$(
        impl IndexedItems for std::ops::Range<$int> {
            fn into_indexed(self) -> impl IndexedParallelIterator<Item = $int> {
                let start = self.start;
                let len = if self.end > start {
                    self.end.wrapping_sub(start) as $unsigned
                } else {
                    0
                };
                offsets(start, len, |start: $int, k| start.wrapping_add(k as $int))
            }
        }

        impl IndexedItems for std::ops::RangeInclusive<$int> {
            fn into_indexed(self) -> impl IndexedParallelIterator<Item = $int> {
                let (start, end) = (*self.start(), *self.end());
                let len = if self.is_empty() {
                    0
                } else {
                    let span = end.wrapping_sub(start) as $unsigned;
                    span.checked_add(1).unwrap_or_else(|| too_many_items())
                };
                offsets(start, len, |start: $int, k| start.wrapping_add(k as $int))
            }
        }
    )*};
}

#[cfg(feature = "pool")]
range_items! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize,
}

#[cfg(feature = "pool")]
/// `start + k` for `k` in `0..len`, split by index.
fn offsets<N, L, A>(start: N, len: L, at: A) -> impl IndexedParallelIterator<Item = N>
where
    N: Copy + Send + Sync,
    usize: TryFrom<L>,
    A: Fn(N, usize) -> N + Send + Sync,
{
    let len = usize::try_from(len).unwrap_or_else(|_| too_many_items());
    (0..len).into_par_iter().map(move |k| at(start, k))
}

fn too_many_items() -> ! {
    panic!("fanout: pool_map! cannot map a range of more than usize::MAX items")
}

#[cfg(feature = "pool")]
impl<T: Send> IndexedItems for Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = T> {
        self.into_par_iter()
    }
}

#[cfg(feature = "pool")]
impl<'a, T: Sync> IndexedItems for &'a Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

#[cfg(feature = "pool")]
impl<'a, T: Send> IndexedItems for &'a mut Vec<T> {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a mut T> {
        self.par_iter_mut()
    }
}

#[cfg(feature = "pool")]
impl<'a, T: Sync> IndexedItems for &'a [T] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

#[cfg(feature = "pool")]
impl<'a, T: Send> IndexedItems for &'a mut [T] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a mut T> {
        self.par_iter_mut()
    }
}

#[cfg(feature = "pool")]
impl<T: Send, const N: usize> IndexedItems for [T; N] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = T> {
        self.into_par_iter()
    }
}

#[cfg(feature = "pool")]
impl<'a, T: Sync, const N: usize> IndexedItems for &'a [T; N] {
    fn into_indexed(self) -> impl IndexedParallelIterator<Item = &'a T> {
        self.par_iter()
    }
}

/// The items of a `pool_map!`, before the engine picks how to take them;
/// see the [module](self).
pub struct Items<I>(Cell<Option<I>>);

impl<I> Items<I> {
    /// Wraps the items of a `pool_map!`.
    pub fn new(items: I) -> Self {
        Items(Cell::new(Some(items)))
    }

    fn take(&self) -> I {
        self.0
            .take()
            .unwrap_or_else(|| unreachable!("pool_map! items are taken once"))
    }
}

/// The two traits of the autoref selection, to bring into scope with a glob
/// import (`use fanout::map::autoref::*;`): one of them is always used.
pub mod autoref {
    #[cfg(feature = "pool")]
    pub use super::SelectIndexed;
    pub use super::SelectSequential;
}

#[cfg(feature = "pool")]
/// Picks [`Indexed`] for items that can be split by index where they are.
pub trait SelectIndexed {
    /// The items as [`Indexed`].
    type Selected;
    /// Takes the items out of the wrapper.
    fn select(self) -> Self::Selected;
}

#[cfg(feature = "pool")]
impl<I: IndexedItems> SelectIndexed for &&Items<I> {
    type Selected = Indexed<I>;
    fn select(self) -> Indexed<I> {
        Indexed(self.take())
    }
}

/// Picks [`Sequential`] for every other `IntoIterator`.
pub trait SelectSequential {
    /// The items as [`Sequential`].
    type Selected;
    /// Takes the items out of the wrapper.
    fn select(self) -> Self::Selected;
}

impl<I> SelectSequential for &Items<I> {
    type Selected = Sequential<I>;
    fn select(self) -> Sequential<I> {
        Sequential(self.take())
    }
}

#[cfg(feature = "pool")]
/// Items split by index where they are; see [`Items`].
pub struct Indexed<I>(I);

#[cfg(feature = "pool")]
impl<I: IndexedItems> Indexed<I> {
    /// [`threads::run`](super::on_threads) without collecting the items.
    #[track_caller]
    pub fn on_threads<M, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        f: F,
    ) -> M::Output
    where
        M: Mode<U>,
        F: Fn(I::Item) -> U + Sync,
        U: Send,
    {
        super::threads::on_threads_indexed(options, mode, name, self.0.into_indexed(), &Plain(f))
    }

    /// [`on_threads_with_init`](super::on_threads_with_init) without
    /// collecting the items.
    #[track_caller]
    pub fn on_threads_with_init<M, G, S, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        init: G,
        f: F,
    ) -> M::Output
    where
        M: Mode<U>,
        G: Fn() -> S + Sync,
        F: Fn(&mut S, I::Item) -> U + Sync,
        U: Send,
    {
        let task = WithInit { init, f };
        super::threads::on_threads_indexed(options, mode, name, self.0.into_indexed(), &task)
    }
}

/// Items of any other iterator, collected into a `Vec` first; see [`Items`].
pub struct Sequential<I>(I);

#[cfg(feature = "pool")]
// The bounds are on each method, not on the impl: a non-iterable `items`
// then fails with "`X` is not an iterator" at the items.
impl<I> Sequential<I> {
    /// [`threads::run`](super::on_threads).
    #[track_caller]
    pub fn on_threads<M, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        f: F,
    ) -> M::Output
    where
        I: IntoIterator,
        I::Item: Send,
        M: Mode<U>,
        F: Fn(I::Item) -> U + Sync,
        U: Send,
    {
        super::on_threads(options, mode, name, self.0, f)
    }

    /// [`on_threads_with_init`](super::on_threads_with_init).
    #[track_caller]
    pub fn on_threads_with_init<M, G, S, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        init: G,
        f: F,
    ) -> M::Output
    where
        I: IntoIterator,
        I::Item: Send,
        M: Mode<U>,
        G: Fn() -> S + Sync,
        F: Fn(&mut S, I::Item) -> U + Sync,
        U: Send,
    {
        super::on_threads_with_init(options, mode, name, self.0, init, f)
    }
}

/// How a process pool takes indexed items: a range of integers is computed
/// in the workers (item `k` is `start + k`), a `Vec` is taken as it is, and
/// the other indexed items are collected into a `Vec` first.
#[cfg(all(unix, feature = "processes"))]
pub trait ProcessItems: IntoIterator {
    /// The items as the workers take them.
    type Source: ItemSource<Item = Self::Item>;
    /// Turns the items into their source.
    fn into_source(self) -> Self::Source;
}

#[cfg(all(unix, feature = "processes"))]
macro_rules! process_ranges {
    ($($int:ty),* $(,)?) => {$(
        impl ProcessItems for Range<$int> {
            type Source = Self;
            fn into_source(self) -> Self {
                self
            }
        }

        impl ProcessItems for std::ops::RangeInclusive<$int> {
            type Source = Vec<$int>;
            fn into_source(self) -> Vec<$int> {
                self.collect()
            }
        }
    )*};
}

#[cfg(all(unix, feature = "processes"))]
process_ranges!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

#[cfg(all(unix, feature = "processes"))]
impl<T> ProcessItems for Vec<T> {
    type Source = Self;
    fn into_source(self) -> Self {
        self
    }
}

#[cfg(all(unix, feature = "processes"))]
macro_rules! process_collected {
    ($($(#[$meta:meta])* [$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($generics)*> ProcessItems for $ty {
            type Source = Vec<<$ty as IntoIterator>::Item>;
            fn into_source(self) -> Self::Source {
                self.into_iter().collect()
            }
        }
    )*};
}

#[cfg(all(unix, feature = "processes"))]
process_collected! {
    ['a, T] &'a Vec<T>,
    ['a, T] &'a mut Vec<T>,
    ['a, T] &'a [T],
    ['a, T] &'a mut [T],
    [T, const N: usize] [T; N],
    ['a, T, const N: usize] &'a [T; N],
}

#[cfg(all(unix, feature = "processes", feature = "pool"))]
impl<I: IndexedItems + ProcessItems> Indexed<I> {
    /// [`processes::run`](super::on_processes) without collecting a range
    /// or a `Vec` first.
    #[track_caller]
    pub fn on_processes<M, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        f: F,
    ) -> M::Output
    where
        M: Mode<U>,
        F: Fn(I::Item) -> U,
        U: crate::process::ProcessOutput,
    {
        super::processes::on_processes_source(options, mode, name, self.0.into_source(), &Plain(f))
    }

    /// [`on_processes_with_init`](super::on_processes_with_init) without
    /// collecting a range or a `Vec` first.
    #[track_caller]
    pub fn on_processes_with_init<M, G, S, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        init: G,
        f: F,
    ) -> M::Output
    where
        M: Mode<U>,
        G: Fn() -> S,
        F: Fn(&mut S, I::Item) -> U,
        U: crate::process::ProcessOutput,
    {
        let task = WithInit { init, f };
        super::processes::on_processes_source(options, mode, name, self.0.into_source(), &task)
    }
}

#[cfg(all(unix, feature = "processes"))]
impl<I> Sequential<I> {
    /// [`processes::run`](super::on_processes).
    #[track_caller]
    pub fn on_processes<M, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        f: F,
    ) -> M::Output
    where
        I: IntoIterator,
        M: Mode<U>,
        F: Fn(I::Item) -> U,
        U: crate::process::ProcessOutput,
    {
        super::on_processes(options, mode, name, self.0, f)
    }

    /// [`on_processes_with_init`](super::on_processes_with_init).
    #[track_caller]
    pub fn on_processes_with_init<M, G, S, F, U>(
        self,
        options: &MapOptions,
        mode: M,
        name: WorkerName,
        init: G,
        f: F,
    ) -> M::Output
    where
        I: IntoIterator,
        M: Mode<U>,
        G: Fn() -> S,
        F: Fn(&mut S, I::Item) -> U,
        U: crate::process::ProcessOutput,
    {
        super::on_processes_with_init(options, mode, name, self.0, init, f)
    }
}

/// Items a process pool can hand out by index: item `k`, taken in increasing
/// order from the copy of the caller's memory each worker has.
///
/// One item is the `IntoIterator::Item`, so that the item type of a range
/// whose integer type is not inferred yet (`0..8`) is known to be that
/// integer type, as for any iterator: `pool_map!(|x: u32| .., 0..8; processes)`
/// makes it a `Range<u32>`.
#[cfg(all(unix, feature = "processes"))]
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
#[cfg(all(unix, feature = "processes"))]
pub trait ItemCursor {
    /// One item.
    type Item;
    /// Item `k`; `k` only increases from one call to the next. The items
    /// skipped are left alone (not dropped: they belong to the caller).
    fn take(&mut self, k: usize) -> Option<Self::Item>;
}

#[cfg(all(unix, feature = "processes"))]
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
#[cfg(all(unix, feature = "processes"))]
pub struct VecCursor<T> {
    items: std::vec::IntoIter<T>,
    /// The index of the item `items.next()` returns.
    position: usize,
}

#[cfg(all(unix, feature = "processes"))]
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

#[cfg(all(unix, feature = "processes"))]
impl<T> Drop for VecCursor<T> {
    fn drop(&mut self) {
        // Leave the items to the process's end, like those skipped.
        let items = std::mem::replace(&mut self.items, Vec::new().into_iter());
        std::mem::forget(items);
    }
}

/// The cursor of a range of integers: item `k` is `start + k`.
#[cfg(all(unix, feature = "processes"))]
#[derive(Clone, Copy, Debug)]
#[cfg(all(unix, feature = "processes"))]
pub struct RangeCursor<N> {
    start: N,
    len: usize,
}

#[cfg(all(unix, feature = "processes"))]
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

#[cfg(all(unix, feature = "processes"))]
range_sources! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize,
}

#[cfg(test)]
mod tests {
    use super::ItemSource as _;
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
