//! What a worker of a map runs on each item: the map's function alone
//! ([`Plain`]), or with a state the worker builds once before its first item
//! ([`WithInit`]: `pool_map!(f, items; init = || state)`, Python's
//! `initializer=`). Every executor takes one of the two, so `init` means the
//! same on threads, processes and streams.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::panic_message;

/// The function of a map, as a worker calls it.
pub(crate) trait WorkerTask<T> {
    /// What the worker keeps from one item to the next.
    type State;
    /// The output of one item.
    type Output;

    /// Builds the worker's state, once, before its first item.
    fn start(&self) -> Self::State;

    /// Runs one item.
    fn call(&self, state: &mut Self::State, item: T) -> Self::Output;

    /// [`start`](WorkerTask::start), its panic caught: the message, which
    /// fails every item of the worker.
    fn try_start(&self) -> Result<Self::State, String> {
        catch_unwind(AssertUnwindSafe(|| self.start())).map_err(|payload| {
            let message = panic_message(&*payload);
            // A payload's destructor may panic too; the message is kept.
            std::mem::forget(payload);
            message
        })
    }
}

/// A function of the item alone.
pub(crate) struct Plain<F>(pub(crate) F);

impl<T, U, F: Fn(T) -> U> WorkerTask<T> for Plain<F> {
    type State = ();
    type Output = U;

    #[inline]
    fn start(&self) {}

    #[inline]
    fn call(&self, _: &mut (), item: T) -> U {
        (self.0)(item)
    }
}

/// A function of the worker's state and the item; `init` builds the state.
pub(crate) struct WithInit<G, F> {
    pub(crate) init: G,
    pub(crate) f: F,
}

impl<T, S, U, G, F> WorkerTask<T> for WithInit<G, F>
where
    G: Fn() -> S,
    F: Fn(&mut S, T) -> U,
{
    type State = S;
    type Output = U;

    fn start(&self) -> S {
        (self.init)()
    }

    #[inline]
    fn call(&self, state: &mut S, item: T) -> U {
        (self.f)(state, item)
    }
}
