//! What a map returns, by mode: [`Unwrap`] (the default), [`Catch`], [`Try`]
//! and [`TryCatch`]. One rule set for every backend and for the loop forms.

use crate::error::{Error, ErrorKind};

/// What became of one item, as a mode sees it: a value kept in the output, or
/// something kept aside (a failure, or a task error with `try`).
pub enum Settled<S, A> {
    /// Kept in the output, at the item's place.
    Kept(S),
    /// Kept aside: the item has no place in the output.
    Aside(A),
}

mod sealed {
    pub trait Sealed {}
}

/// How the outcomes of a group of items become what the group returns.
///
/// Implemented by [`Unwrap`], [`Catch`], [`Try`] and [`TryCatch`] only; the
/// macros pick one from the `catch` and `try` options.
pub trait Mode<U>: Copy + Send + Sync + 'static + sealed::Sealed {
    /// What an item keeps in the output.
    type Kept: Send;
    /// What an item keeps aside.
    type Aside: Send;
    /// What the group returns.
    type Output;

    /// Sorts the outcome of an item that ran (its output, or the failure of
    /// its worker).
    fn settle(outcome: Result<U, Error>) -> Settled<Self::Kept, Self::Aside>;

    /// An item that never ran: timed out or cancelled (`error` says which).
    fn missing(error: Error) -> Settled<Self::Kept, Self::Aside>;

    /// Whether no new item may start once this was kept aside.
    fn stops(aside: &Self::Aside) -> bool;

    /// Whether every failure of a worker (a panic, a crash) stops the map:
    /// then nothing of an item's chunk runs after it panicked.
    const FAILURE_STOPS: bool = true;

    /// Whether this outcome will stop the map (what [`stops`](Mode::stops)
    /// says of it once settled), told without consuming it: a worker
    /// process checks it before it sends the outcome to the parent.
    fn stops_on(outcome: &Result<U, Error>) -> bool;

    /// The output when every item kept a slot, in input order.
    fn output(slots: Vec<Self::Kept>) -> Self::Output;

    /// The output when some items were kept aside (by index, increasing).
    fn failed(asides: Vec<(usize, Self::Aside)>) -> Self::Output;

    /// What a stream (`pool_map!(...; stream)`) yields for one item.
    type Yielded: Send;

    /// What a stream yields for an item kept in the output.
    fn yielded(kept: Self::Kept) -> Self::Yielded;

    /// The last item of a stream that met an outcome kept aside, with its
    /// index, once the running items ended: `asides` are those of the items
    /// not yielded (by index, increasing). Panics as [`failed`](Mode::failed)
    /// does: the same rule, so a stream ends as the collecting form returns.
    fn last(asides: Vec<(usize, Self::Aside)>) -> (usize, Self::Yielded);
}

/// The default mode: every output, in input order; the first failure (by
/// index) makes the caller panic, once the running items ended.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unwrap;

/// `catch`: every item's own `Result<T, fanout::Error>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Catch;

/// `try`: the items return `Result<T, E>`; the group returns
/// `Result<Vec<T>, E>`, the error of the lowest index among the items that
/// ran. A worker's failure (a panic, a crash, a timeout) makes the caller
/// panic, as without `try`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Try;

/// `try` and `catch`: as [`Try`], but a worker's failure becomes the task
/// error through `E: From<fanout::Error>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TryCatch;

impl sealed::Sealed for Unwrap {}
impl sealed::Sealed for Catch {}
impl sealed::Sealed for Try {}
impl sealed::Sealed for TryCatch {}

/// What [`Try`] and [`TryCatch`] keep aside.
pub enum TryAside<E> {
    /// The task returned this error.
    Err(E),
    /// The worker failed (or the item never ran).
    Failure(Error),
}

fn is_cancelled(error: &Error) -> bool {
    *error.kind() == ErrorKind::Cancelled
}

/// Panics with the failure of the lowest index (a cancellation only if there
/// is nothing else).
#[track_caller]
fn raise_lowest(failures: impl IntoIterator<Item = Error>) -> ! {
    let mut cancelled = None;
    for failure in failures {
        if is_cancelled(&failure) {
            cancelled = cancelled.or(Some(failure));
        } else {
            crate::outcome::raise([Some(failure)]);
        }
    }
    crate::outcome::raise([cancelled])
}

impl<U: Send> Mode<U> for Unwrap {
    type Kept = U;
    type Aside = Error;
    type Output = Vec<U>;

    #[inline]
    fn settle(outcome: Result<U, Error>) -> Settled<U, Error> {
        match outcome {
            Ok(value) => Settled::Kept(value),
            Err(failure) => Settled::Aside(failure),
        }
    }

    fn missing(error: Error) -> Settled<U, Error> {
        Settled::Aside(error)
    }

    fn stops(_: &Error) -> bool {
        true
    }

    fn stops_on(outcome: &Result<U, Error>) -> bool {
        outcome.is_err()
    }

    fn output(slots: Vec<U>) -> Vec<U> {
        slots
    }

    #[track_caller]
    fn failed(asides: Vec<(usize, Error)>) -> Vec<U> {
        raise_lowest(asides.into_iter().map(|(_, failure)| failure))
    }

    type Yielded = U;

    #[inline]
    fn yielded(kept: U) -> U {
        kept
    }

    #[track_caller]
    fn last(asides: Vec<(usize, Error)>) -> (usize, U) {
        raise_lowest(asides.into_iter().map(|(_, failure)| failure))
    }
}

impl<U: Send> Mode<U> for Catch {
    type Kept = Result<U, Error>;
    type Aside = Error;
    type Output = Vec<Result<U, Error>>;

    const FAILURE_STOPS: bool = false;

    #[inline]
    fn settle(outcome: Result<U, Error>) -> Settled<Result<U, Error>, Error> {
        Settled::Kept(outcome)
    }

    fn missing(error: Error) -> Settled<Result<U, Error>, Error> {
        Settled::Kept(Err(error))
    }

    fn stops(_: &Error) -> bool {
        false
    }

    fn stops_on(_: &Result<U, Error>) -> bool {
        false
    }

    fn output(slots: Vec<Result<U, Error>>) -> Vec<Result<U, Error>> {
        slots
    }

    fn failed(asides: Vec<(usize, Error)>) -> Vec<Result<U, Error>> {
        // `settle` and `missing` never keep anything aside.
        asides
            .into_iter()
            .map(|(_, failure)| Err(failure))
            .collect()
    }

    type Yielded = Result<U, Error>;

    #[inline]
    fn yielded(kept: Result<U, Error>) -> Result<U, Error> {
        kept
    }

    #[track_caller]
    fn last(asides: Vec<(usize, Error)>) -> (usize, Result<U, Error>) {
        // `settle` and `missing` never keep anything aside.
        match asides.into_iter().next() {
            Some((index, failure)) => (index, Err(failure)),
            None => raise_lowest(Vec::new()),
        }
    }
}

impl<T: Send, E: Send> Mode<Result<T, E>> for Try {
    type Kept = T;
    type Aside = TryAside<E>;
    type Output = Result<Vec<T>, E>;

    #[inline]
    fn settle(outcome: Result<Result<T, E>, Error>) -> Settled<T, TryAside<E>> {
        match outcome {
            Ok(Ok(value)) => Settled::Kept(value),
            Ok(Err(error)) => Settled::Aside(TryAside::Err(error)),
            Err(failure) => Settled::Aside(TryAside::Failure(failure)),
        }
    }

    fn missing(error: Error) -> Settled<T, TryAside<E>> {
        Settled::Aside(TryAside::Failure(error))
    }

    fn stops(_: &TryAside<E>) -> bool {
        true
    }

    fn stops_on(outcome: &Result<Result<T, E>, Error>) -> bool {
        !matches!(outcome, Ok(Ok(_)))
    }

    fn output(slots: Vec<T>) -> Result<Vec<T>, E> {
        Ok(slots)
    }

    #[track_caller]
    fn failed(asides: Vec<(usize, TryAside<E>)>) -> Result<Vec<T>, E> {
        let mut first_error = None;
        let mut failures = Vec::new();
        for (_, aside) in asides {
            match aside {
                TryAside::Err(error) => first_error = first_error.or(Some(error)),
                TryAside::Failure(failure) if is_cancelled(&failure) => {}
                TryAside::Failure(failure) => failures.push(failure),
            }
        }
        if !failures.is_empty() {
            raise_lowest(failures);
        }
        match first_error {
            Some(error) => Err(error),
            None => raise_lowest(Vec::new()),
        }
    }

    type Yielded = Result<T, E>;

    #[inline]
    fn yielded(kept: T) -> Result<T, E> {
        Ok(kept)
    }

    #[track_caller]
    fn last(asides: Vec<(usize, TryAside<E>)>) -> (usize, Result<T, E>) {
        let mut first_error = None;
        let mut failures = Vec::new();
        for (index, aside) in asides {
            match aside {
                TryAside::Err(error) => first_error = first_error.or(Some((index, error))),
                TryAside::Failure(failure) if is_cancelled(&failure) => {}
                TryAside::Failure(failure) => failures.push(failure),
            }
        }
        if !failures.is_empty() {
            raise_lowest(failures);
        }
        match first_error {
            Some((index, error)) => (index, Err(error)),
            None => raise_lowest(Vec::new()),
        }
    }
}

impl<T: Send, E: Send + From<Error>> Mode<Result<T, E>> for TryCatch {
    type Kept = T;
    type Aside = TryAside<E>;
    type Output = Result<Vec<T>, E>;

    #[inline]
    fn settle(outcome: Result<Result<T, E>, Error>) -> Settled<T, TryAside<E>> {
        <Try as Mode<Result<T, E>>>::settle(outcome)
    }

    fn missing(error: Error) -> Settled<T, TryAside<E>> {
        Settled::Aside(TryAside::Failure(error))
    }

    fn stops(_: &TryAside<E>) -> bool {
        true
    }

    fn stops_on(outcome: &Result<Result<T, E>, Error>) -> bool {
        !matches!(outcome, Ok(Ok(_)))
    }

    fn output(slots: Vec<T>) -> Result<Vec<T>, E> {
        Ok(slots)
    }

    fn failed(asides: Vec<(usize, TryAside<E>)>) -> Result<Vec<T>, E> {
        let mut cancelled = None;
        for (_, aside) in asides {
            match aside {
                TryAside::Err(error) => return Err(error),
                TryAside::Failure(failure) if is_cancelled(&failure) => {
                    cancelled = cancelled.or(Some(failure));
                }
                TryAside::Failure(failure) => return Err(E::from(failure)),
            }
        }
        let cancelled = cancelled.unwrap_or_else(|| Error::new("map", ErrorKind::Cancelled));
        Err(E::from(cancelled))
    }

    type Yielded = Result<T, E>;

    #[inline]
    fn yielded(kept: T) -> Result<T, E> {
        Ok(kept)
    }

    fn last(asides: Vec<(usize, TryAside<E>)>) -> (usize, Result<T, E>) {
        let mut cancelled = None;
        for (index, aside) in asides {
            match aside {
                TryAside::Err(error) => return (index, Err(error)),
                TryAside::Failure(failure) if is_cancelled(&failure) => {
                    cancelled = cancelled.or(Some((index, failure)));
                }
                TryAside::Failure(failure) => return (index, Err(E::from(failure))),
            }
        }
        let (index, cancelled) =
            cancelled.unwrap_or_else(|| (0, Error::new("map", ErrorKind::Cancelled)));
        (index, Err(E::from(cancelled)))
    }
}
