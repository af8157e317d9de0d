//! The [`Task`] trait: what a worker runs.

/// Something a worker runs once, producing an output: the `run()` of Python's
/// `Thread` and `Process` subclasses.
///
/// Every `FnOnce() -> T` is a task; implement it for your own type to give it
/// fields and a name, as the tutorial does with `class PrintNumbers(Thread)`:
///
/// ```
/// struct PrintNumbers;
///
/// impl fanout::Task for PrintNumbers {
///     type Output = u32;
///     fn run(self) -> u32 {
///         (0..10).sum()
///     }
/// }
///
/// let (sum, letters) = fanout::spawn_threads!(PrintNumbers, || "abc".len());
/// assert_eq!((sum, letters), (45, 3));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task fanout can run",
    label = "not a task: expected a function or closure with no arguments, or a type that implements `fanout::Task`",
    note = "a task is `fn() -> T`, `|| ...`, a call such as `worker(i)` (run in the worker), or a type with `impl fanout::Task`"
)]
pub trait Task {
    /// What the task produces.
    type Output;

    /// Runs the task, consuming it.
    fn run(self) -> Self::Output;
}

impl<F, T> Task for F
where
    F: FnOnce() -> T,
{
    type Output = T;

    fn run(self) -> T {
        self()
    }
}
