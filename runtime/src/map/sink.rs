//! The ordered sink of a collecting map: each item's outcome goes straight to
//! its place in the output, whichever worker ran it and whenever it ended.

use std::marker::PhantomData;
use std::sync::Mutex;

use super::mode::{Mode, Settled};
use super::plan::{Plan, Stop};
use crate::error::Error;
use crate::sys::slots::{Slots, Writer};

/// Where the outcomes of a collecting map go: one slot per item, and the
/// outcomes kept aside.
pub(crate) struct Collect<M: Mode<U>, U> {
    slots: Slots<M::Kept>,
    asides: Mutex<Vec<(usize, M::Aside)>>,
    _mode: PhantomData<fn(U) -> M>,
}

impl<M: Mode<U>, U> Collect<M, U> {
    /// The sink of a map of `len` items.
    pub(crate) fn new(len: usize) -> Self {
        Collect {
            slots: Slots::new(len),
            asides: Mutex::new(Vec::new()),
            _mode: PhantomData,
        }
    }

    /// Readies the output for a map whose workers are forked next: its
    /// memory is not shared with them ([`Slots::release_pages`]).
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn before_forks(&mut self) {
        self.slots.release_pages();
    }

    /// The next `count` items (fewer at the end), or `None` when every item
    /// was handed out.
    #[inline]
    pub(crate) fn claim(&self, count: usize) -> Option<ChunkSink<'_, M, U>> {
        let writer = self.slots.claim(count)?;
        Some(ChunkSink {
            writer,
            asides: &self.asides,
            kept: Vec::new(),
        })
    }

    /// What the map returns, once every worker ended: items that never
    /// answered are timed out or cancelled, by what stopped the plan.
    #[track_caller]
    pub(crate) fn finish(self, plan: &Plan) -> M::Output {
        let Collect {
            mut slots, asides, ..
        } = self;
        let mut asides = asides.into_inner().unwrap_or_else(|e| e.into_inner());
        asides.sort_by_key(|(index, _)| *index);
        let mut fills = Vec::new();
        let mut missing = slots.missing();
        missing.retain(|k| asides.binary_search_by_key(k, |(index, _)| *index).is_err());
        if !missing.is_empty() && plan.stopped().is_none() {
            // Nothing stopped the map, yet an item never answered: say so
            // rather than call it cancelled.
            plan.stop(Stop::Failed);
        }
        for k in missing {
            match M::missing(plan.unstarted(k)) {
                Settled::Kept(slot) => fills.push((k, slot)),
                Settled::Aside(aside) => asides.push((k, aside)),
            }
        }
        if !asides.is_empty() {
            asides.sort_by_key(|(index, _)| *index);
            drop(slots);
            return M::failed(asides);
        }
        let mut fills = fills.into_iter();
        slots.fill_missing(|_| match fills.next() {
            Some((_, slot)) => slot,
            None => unreachable!("fanout: a missing item without its outcome"),
        });
        match slots.into_vec() {
            Ok(all) => M::output(all),
            Err(_) => unreachable!("fanout: a map lost an item's outcome"),
        }
    }

    /// Whether some items were not handed out yet.
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn has_unclaimed(&self) -> bool {
        self.slots.has_unclaimed()
    }
}

/// The outcomes of one run of consecutive items (a chunk), in order.
pub(crate) struct ChunkSink<'a, M: Mode<U>, U> {
    writer: Writer<'a, M::Kept>,
    asides: &'a Mutex<Vec<(usize, M::Aside)>>,
    kept: Vec<(usize, M::Aside)>,
}

impl<M: Mode<U>, U> ChunkSink<'_, M, U> {
    /// The index of the item whose outcome comes next.
    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.writer.index()
    }

    /// The end of the run.
    pub(crate) fn end(&self) -> usize {
        self.writer.end()
    }

    /// Whether every item of the run has its outcome.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.writer.is_done()
    }

    /// The outcome of item [`index`](ChunkSink::index); `true` if it stops the map.
    #[inline]
    pub(crate) fn put(&mut self, outcome: Result<U, Error>) -> bool {
        match M::settle(outcome) {
            Settled::Kept(slot) => {
                self.writer.write(slot);
                false
            }
            Settled::Aside(aside) => {
                let stops = M::stops(&aside);
                self.kept.push((self.writer.index(), aside));
                self.writer.skip();
                stops
            }
        }
    }

    /// [`put`](ChunkSink::put)s the outputs that `output()` gives for the
    /// next items in turn (the index of each is
    /// [`writing_index`](crate::sys::slots::writing_index) meanwhile), in
    /// one loop whose position stays in a register
    /// ([`Writer::write_while`]), until it gives `None`, an output is kept
    /// aside (a `try` error: put as `put` does) or the run is done; `true`
    /// if an outcome stops the map.
    #[cfg(feature = "pool")]
    #[inline]
    pub(crate) fn put_while(&mut self, mut output: impl FnMut() -> Option<U>) -> bool {
        let mut aside = None;
        self.writer.write_while(|| {
            let output = output()?;
            match M::settle(Ok(output)) {
                Settled::Kept(slot) => Some(slot),
                Settled::Aside(kept_aside) => {
                    aside = Some(kept_aside);
                    None
                }
            }
        });
        match aside {
            Some(aside) => {
                let stops = M::stops(&aside);
                self.kept.push((self.writer.index(), aside));
                self.writer.skip();
                stops
            }
            None => false,
        }
    }

    /// Item [`index`](ChunkSink::index) gets no outcome (it never ran): the map's
    /// end decides it.
    #[cfg(all(unix, feature = "processes"))]
    pub(crate) fn skip(&mut self) {
        self.writer.skip();
    }
}

impl<M: Mode<U>, U> Drop for ChunkSink<'_, M, U> {
    fn drop(&mut self) {
        if !self.kept.is_empty() {
            let mut asides = self.asides.lock().unwrap_or_else(|e| e.into_inner());
            asides.append(&mut self.kept);
        }
    }
}
