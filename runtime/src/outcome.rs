//! Turning the outcomes of a group of workers into what a macro returns.
//!
//! Each worker ends with a `Result<T, Error>`. Without `catch` the group's
//! failures become one panic in the caller (after every worker ended); with
//! `try` the tasks' own `Result<T, E>` outputs are combined into one
//! `Result<_, E>`, the first error in task order winning.

use crate::error::{Error, ErrorKind};

/// A value of any type for code that a macro reported as a mistake and left
/// out of its expansion (an `.await` in a thread task, say): never called in a
/// program that compiles.
///
/// # Panics
/// Always.
#[doc(hidden)]
pub fn left_out<T>() -> T {
    panic!("fanout: this code was refused at compile time")
}

/// Panics with a message that lists every failure, after all workers ended.
///
/// The message of a single failure is that failure's own message
/// (`worker `worker-3` panicked: boom`); several are counted and listed.
///
/// ```should_panic
/// use fanout::{Error, ErrorKind, outcome};
///
/// let failure = Error::new("worker-1", ErrorKind::Panic("boom".into()));
/// outcome::raise([None, Some(failure)]);
/// ```
#[track_caller]
pub fn raise<I>(failures: I) -> !
where
    I: IntoIterator<Item = Option<Error>>,
{
    let failures: Vec<Error> = failures.into_iter().flatten().collect();
    std::panic::panic_any(describe(&failures))
}

fn describe(failures: &[Error]) -> String {
    const SHOWN: usize = 8;
    match failures {
        [] => "fanout: a worker failed".to_owned(),
        [one] => one.to_string(),
        many => {
            let mut text = format!("{} workers failed: ", many.len());
            for (k, failure) in many.iter().take(SHOWN).enumerate() {
                if k > 0 {
                    text.push_str("; ");
                }
                text.push_str(&failure.to_string());
            }
            if many.len() > SHOWN {
                text.push_str(&format!("; and {} more", many.len() - SHOWN));
            }
            text
        }
    }
}

/// The outputs of a loop-form group: every output, or a panic listing every
/// failure (the default, without `catch`).
///
/// ```
/// let outputs = fanout::outcome::unwrap_all(vec![Ok(1), Ok(2)]);
/// assert_eq!(outputs, [1, 2]);
/// ```
#[track_caller]
pub fn unwrap_all<T>(outcomes: Vec<Result<T, Error>>) -> Vec<T> {
    if outcomes.iter().any(Result::is_err) {
        raise(outcomes.into_iter().map(Result::err));
    }
    outcomes.into_iter().flatten().collect()
}

/// `try` without `catch`: panics if a worker failed (cancelled workers aside),
/// otherwise the first task error in task order, or every output.
///
/// ```
/// use fanout::outcome::try_all;
///
/// let all: Result<Vec<i32>, String> = try_all(vec![Ok(Ok(1)), Ok(Err("two".into())), Ok(Err("three".into()))]);
/// assert_eq!(all, Err("two".to_owned()));
/// ```
#[track_caller]
pub fn try_all<T, E>(outcomes: Vec<Result<Result<T, E>, Error>>) -> Result<Vec<T>, E> {
    raise_failures(&outcomes);
    let mut values = Vec::with_capacity(outcomes.len());
    let mut cancelled = None;
    for outcome in outcomes {
        match outcome {
            Ok(Ok(value)) => values.push(value),
            Ok(Err(error)) => return Err(error),
            Err(failure) => cancelled = cancelled.or(Some(failure)),
        }
    }
    match cancelled {
        // Cancelled without a task error: cannot happen, but never lose it.
        Some(failure) => raise([Some(failure)]),
        None => Ok(values),
    }
}

/// Panics listing the real failures (not the cancellations) of `outcomes`, if any.
#[track_caller]
fn raise_failures<T>(outcomes: &[Result<T, Error>]) {
    let failed = |o: &Result<T, Error>| matches!(o, Err(f) if *f.kind() != ErrorKind::Cancelled);
    if outcomes.iter().any(failed) {
        raise(
            outcomes
                .iter()
                .filter(|o| failed(o))
                .map(|o| o.as_ref().err().cloned()),
        );
    }
}

/// `try` with `catch`: a worker failure becomes the task error `E::from(Error)`,
/// then the first error in task order wins.
///
/// ```
/// use fanout::{Error, ErrorKind, outcome::try_catch_all};
///
/// let failed = Err(Error::new("job-0", ErrorKind::Panic("boom".into())));
/// let all: Result<Vec<i32>, Error> = try_catch_all(vec![failed, Ok(Ok(2))]);
/// assert!(all.unwrap_err().is_panic());
/// ```
pub fn try_catch_all<T, E>(outcomes: Vec<Result<Result<T, E>, Error>>) -> Result<Vec<T>, E>
where
    E: From<Error>,
{
    let mut values = Vec::with_capacity(outcomes.len());
    let mut cancelled = None;
    for outcome in outcomes {
        match outcome {
            Ok(Ok(value)) => values.push(value),
            Ok(Err(error)) => return Err(error),
            Err(failure) if *failure.kind() == ErrorKind::Cancelled => {
                cancelled = cancelled.or(Some(failure));
            }
            Err(failure) => return Err(E::from(failure)),
        }
    }
    match cancelled {
        Some(failure) => Err(E::from(failure)),
        None => Ok(values),
    }
}

/// Forgets the output of a `try` outcome, so outcomes of different types can
/// be combined by [`try_error`] and [`try_catch_error`].
pub fn erase<T, E>(outcome: Result<Result<T, E>, Error>) -> Result<Result<(), E>, Error> {
    outcome.map(|inner| inner.map(drop))
}

/// The error of a failed `try` list (`spawn_threads!(a, b; try)`): panics if
/// a worker failed, otherwise the first task error in task order.
///
/// # Panics
/// Also if no outcome failed; the macros call it only after seeing one.
#[track_caller]
pub fn try_error<E, I>(outcomes: I) -> E
where
    I: IntoIterator<Item = Result<Result<(), E>, Error>>,
{
    match try_all(outcomes.into_iter().collect()) {
        Err(error) => error,
        Ok(_) => panic!("fanout: try_error called without an error"),
    }
}

/// [`try_error`] with `catch`: a worker failure becomes `E::from(Error)`.
///
/// # Panics
/// If no outcome failed; the macros call it only after seeing one.
pub fn try_catch_error<E, I>(outcomes: I) -> E
where
    I: IntoIterator<Item = Result<Result<(), E>, Error>>,
    E: From<Error>,
{
    match try_catch_all(outcomes.into_iter().collect()) {
        Err(error) => error,
        Ok(_) => panic!("fanout: try_catch_error called without an error"),
    }
}

/// One `try` + `catch` outcome: a worker failure becomes `E::from(Error)`.
pub fn flatten<T, E>(outcome: Result<Result<T, E>, Error>) -> Result<T, E>
where
    E: From<Error>,
{
    match outcome {
        Ok(inner) => inner,
        Err(failure) => Err(E::from(failure)),
    }
}

// ---------------------------------------------------------------- races
//
// What a race (`gather!(a, b; race)`, `spawn_processes!(a, b; race)`) returns,
// by the `catch` and `try` options.

/// How a race ended: the winner's output, or (no task won) every outcome in
/// task order, what the `race_*` functions make the macro's value of.
#[derive(Debug)]
pub enum RaceEnd<T> {
    /// The output of the first task to finish (with `try`: the first `Ok`).
    Won(T),
    /// No task won: every task failed or timed out. Outcomes in task order.
    Lost(Vec<Result<T, Error>>),
}

impl<T> RaceEnd<T> {
    /// The end of a fixed-list race (`gather!(a(), b(); race)`): the winner's
    /// index, if any, and every task's outcome.
    pub fn of_list<const N: usize>(winner: Option<usize>, outcomes: [Result<T, Error>; N]) -> Self {
        let mut outcomes = Vec::from(outcomes);
        match winner {
            Some(index) if index < outcomes.len() => match outcomes.swap_remove(index) {
                Ok(output) => RaceEnd::Won(output),
                Err(failure) => {
                    unreachable!("fanout: the winner of a race failed: {failure}")
                }
            },
            _ => RaceEnd::Lost(outcomes),
        }
    }
}

/// The panic of a race that no task won, without `catch`.
#[cold]
#[track_caller]
fn no_winner(failures: &[&Error]) -> ! {
    if failures.is_empty() {
        panic!("race: there was no task to race");
    }
    if let Some(timeout) = failures.iter().find_map(|f| match f.kind() {
        ErrorKind::Timeout(timeout) => Some(*timeout),
        _ => None,
    }) && failures.iter().all(|f| f.is_timeout())
    {
        panic!(
            "race: no task finished within the timeout of {timeout:?}; add `catch` to get `Err(fanout::Error)` (timed out) instead of this panic, or allow more time"
        );
    }
    let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
    panic!(
        "race: no task won, every one failed: {}; add `catch` to get the error as an `Err` instead of this panic",
        listed.join("; ")
    )
}

/// A race without `catch` or `try`: the winner's output.
///
/// # Panics
/// If no task won (every one panicked or timed out), with a message that
/// says how to get an `Err` instead.
#[track_caller]
pub fn race_output<T>(end: RaceEnd<T>) -> T {
    match end {
        RaceEnd::Won(output) => output,
        RaceEnd::Lost(outcomes) => {
            let failures: Vec<&Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
            no_winner(&failures)
        }
    }
}

/// A race with `catch`: the winner's output, or the failure of the lowest
/// index (timed out, with a `timeout` that passed).
///
/// # Panics
/// If there was no task at all.
#[track_caller]
pub fn race_caught<T>(end: RaceEnd<T>) -> Result<T, Error> {
    match end {
        RaceEnd::Won(output) => Ok(output),
        RaceEnd::Lost(outcomes) => match outcomes.into_iter().next() {
            Some(outcome) => outcome,
            None => no_winner(&[]),
        },
    }
}

/// A race with `try`: the first `Ok`, or the task error of the lowest index.
///
/// # Panics
/// If no task won and one panicked (all panics are listed), or if every
/// task timed out (naming `catch` as the fix).
#[track_caller]
pub fn race_tried<T, E>(end: RaceEnd<Result<T, E>>) -> Result<T, E> {
    match end {
        RaceEnd::Won(output) => output,
        RaceEnd::Lost(outcomes) => {
            let panicked: Vec<&Error> = outcomes
                .iter()
                .filter_map(|o| o.as_ref().err())
                .filter(|f| f.is_panic())
                .collect();
            if !panicked.is_empty() {
                no_winner(&panicked);
            }
            if let Some(error) = outcomes.iter().position(|o| matches!(o, Ok(Err(_)))) {
                return outcomes
                    .into_iter()
                    .nth(error)
                    .and_then(Result::ok)
                    .unwrap_or_else(|| unreachable!("fanout: the task error was just found"));
            }
            let failures: Vec<&Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
            no_winner(&failures)
        }
    }
}

/// A race with `try` and `catch`: the first `Ok`, or the error of the
/// lowest index (a failure as `E::from(fanout::Error)`).
///
/// # Panics
/// If there was no task at all.
#[track_caller]
pub fn race_tried_caught<T, E: From<Error>>(end: RaceEnd<Result<T, E>>) -> Result<T, E> {
    match end {
        RaceEnd::Won(output) => output,
        RaceEnd::Lost(outcomes) => match outcomes.into_iter().next() {
            Some(outcome) => crate::outcome::flatten(outcome),
            None => no_winner(&[]),
        },
    }
}
