//! A future returned by a thread task: `spawn_threads!(fetch(url))` with an
//! `async fn fetch` runs `fetch(url)` on a thread, as a plain function, and
//! returns the future it makes, unpolled: it never runs. The macros check
//! each task's output here, and such an output is a compile error that says
//! to use `gather!`.
//!
//! The check is autoref specialization on [`Output`], the output's type:
//! `(&&&Output::of(&outcome)).check_unpolled()` resolves to
//! [`autoref::Settled`] for an `Unpin` output (every output that is not a
//! future; also an output whose type is not inferred yet, and one whose type
//! is already an error, which then stays the only error), to
//! [`autoref::Unpolled`] for a future that is not `Unpin` (every `async fn`'s
//! and `async` block's), whose `check_unpolled` needs [`UseGather`], which no
//! type implements, and to [`autoref::Pinned`] for the rest. A future that is
//! `Unpin` (`std::future::ready(1)`) is not caught.

use core::marker::PhantomData;

/// The type of a task's output, without a value of it.
pub struct Output<T>(PhantomData<T>);

impl<T> Output<T> {
    /// The output type of a task's outcome.
    pub fn of<E>(_: &Result<T, E>) -> Self {
        Output(PhantomData)
    }

    /// The output type of the outcomes of the loop form (or of
    /// `pool_map!(...; catch)`).
    pub fn of_each<E>(_: &[Result<T, E>]) -> Self {
        Output(PhantomData)
    }

    /// The output type of the outputs of `pool_map!`.
    pub fn of_outputs(_: &[T]) -> Self {
        Output(PhantomData)
    }
}

/// Implemented by no type: the bound that makes an unpolled future a
/// compile error, with the message that says what to write instead.
#[diagnostic::on_unimplemented(
    message = "this returns a future (`{Self}`) on a thread, where nothing polls it: the future would be returned unpolled and never run",
    label = "an `async fn` called on a thread",
    note = "await futures together inside async code with gather! (`gather!(fetch(a), fetch(b))`, `gather!(for url in urls => fetch(url))`), or run each to its end on its thread with `fanout::run` (`spawn_threads!(for url in urls => fanout::run(fetch(url)))`)"
)]
pub trait UseGather {}

/// The traits of the check, to import with a glob (one of them is always
/// used).
pub mod autoref {
    use super::{Output, UseGather};

    /// An `Unpin` output: not a future of an `async fn`.
    pub trait Settled {
        /// Nothing to check.
        fn check_unpolled(&self) {}
    }

    impl<T: Unpin> Settled for &&Output<T> {}

    /// A future that is not `Unpin`: an `async fn`'s or an `async` block's.
    pub trait Unpolled<T> {
        /// A compile error ([`UseGather`]).
        fn check_unpolled(&self)
        where
            T: UseGather,
        {
        }
    }

    impl<T: core::future::Future> Unpolled<T> for &Output<T> {}

    /// Any other output.
    pub trait Pinned {
        /// Nothing to check.
        fn check_unpolled(&self) {}
    }

    impl<T> Pinned for Output<T> {}
}
