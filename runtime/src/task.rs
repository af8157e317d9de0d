//! The [`Task`] trait: what a worker runs.

/// Something a worker runs once, producing an output: the `run()` of Python's
/// `Thread` and `Process` subclasses.
///
/// Every `FnOnce() -> T` is a task; implement it for your own type to give it
/// fields and a name, as the tutorial does with `class PrintNumbers(Thread)`:
///
/// ```
/// use fanout::Task;
///
/// struct PrintNumbers;
///
/// impl fanout::Task for PrintNumbers {
///     type Output = u32;
///     fn run(self) -> u32 {
///         (0..10).sum()
///     }
/// }
///
/// // `fanout::spawn_threads!(PrintNumbers, || "abc".len())` runs both on
/// // threads and returns `(45, 3)`; each worker calls `run`:
/// assert_eq!(PrintNumbers.run(), 45);
/// assert_eq!((|| "abc".len()).run(), 3);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task fanout can run",
    label = "not a task: expected a function or closure with no arguments, or a type that implements `fanout::Task`",
    note = "a task is a function or a closure with no arguments (`print_numbers`, `|| ...`), a type with `impl fanout::Task`, or any other expression, evaluated in the worker (`worker(i)`, `{{ value * 2 }}`)"
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
