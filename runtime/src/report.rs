//! What the `progress` and `timeline` options show: a progress bar while a
//! group runs, and a chart of when each task ran once it is over.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::name::WorkerName;

/// Records a group's tasks for the `progress` and `timeline` options.
///
/// With both options off every method is a branch on a `None` and costs
/// nothing measurable. All methods take `&self`: workers on any thread share one
/// report.
pub struct Report {
    origin: Instant,
    timeline: Option<Mutex<Vec<Span>>>,
    #[cfg(feature = "progress")]
    progress: Option<indicatif::ProgressBar>,
}

/// One task's stretch of time, as the timeline records it.
#[derive(Clone, Debug)]
pub struct Span {
    /// The task's name.
    pub name: WorkerName,
    /// When it started, from the group's start.
    pub start: Duration,
    /// When it ended, from the group's start.
    pub end: Duration,
    /// Where it ran: `pid 123` or `thread 4 (pid 123)`.
    pub place: String,
}

/// A started task, handed back to [`Report::end`].
#[must_use]
pub struct Started(Option<(WorkerName, Instant)>);

impl Started {
    /// A start that records nothing.
    pub fn none() -> Self {
        Started(None)
    }
}

impl Report {
    /// A report that shows a timeline and/or a progress bar.
    pub fn new(timeline: bool, progress: bool) -> Self {
        #[cfg(not(feature = "progress"))]
        let _ = progress;
        Report {
            origin: Instant::now(),
            timeline: timeline.then(|| Mutex::new(Vec::new())),
            #[cfg(feature = "progress")]
            progress: progress.then(progress_bar).flatten(),
        }
    }

    /// Sets the number of tasks the progress bar counts to.
    #[inline]
    pub fn expect(&self, total: usize) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.progress {
            bar.set_length(total as u64);
        }
        #[cfg(not(feature = "progress"))]
        let _ = total;
    }

    /// For a stream whose total is not known (an endless iterator): the
    /// progress bar becomes a counter of the tasks done, with their rate.
    pub fn expect_unknown(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.progress
            && let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} {pos} tasks done, {per_sec}")
        {
            bar.set_style(style);
        }
    }

    /// Notes that the task `name` starts now.
    #[inline]
    pub fn start(&self, name: WorkerName) -> Started {
        Started(self.timeline.as_ref().map(|_| (name, Instant::now())))
    }

    /// Notes that a task ended now.
    #[inline]
    pub fn end(&self, started: Started) {
        if let Some((name, start)) = started.0 {
            self.record_end(name, start);
        }
        self.advance(1);
    }

    /// The timeline's part of [`end`](Report::end), out of the per-task path.
    #[cold]
    #[inline(never)]
    fn record_end(&self, name: WorkerName, start: Instant) {
        if let Some(spans) = &self.timeline {
            let span = Span {
                name,
                start: start.duration_since(self.origin),
                end: self.origin.elapsed(),
                place: place(),
            };
            spans.lock().unwrap_or_else(|e| e.into_inner()).push(span);
        }
    }

    /// Records a span measured elsewhere (in a child process).
    pub fn record(&self, span: Span) {
        if let Some(spans) = &self.timeline {
            spans.lock().unwrap_or_else(|e| e.into_inner()).push(span);
        }
    }

    /// When the group started.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Whether the report records nothing (neither option is on), so that a
    /// worker may skip [`start`](Report::start) and [`end`](Report::end).
    #[inline]
    pub fn is_quiet(&self) -> bool {
        #[cfg(feature = "progress")]
        if self.progress.is_some() {
            return false;
        }
        self.timeline.is_none()
    }

    /// Whether the timeline is on.
    pub fn timeline_enabled(&self) -> bool {
        self.timeline.is_some()
    }

    /// Counts `done` more tasks on the progress bar.
    #[inline]
    pub fn advance(&self, done: usize) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.progress {
            bar.inc(done as u64);
        }
        #[cfg(not(feature = "progress"))]
        let _ = done;
    }

    /// Ends the group: clears the progress bar and prints the timeline to stderr.
    pub fn finish(&self, title: &str) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        if let Some(spans) = &self.timeline {
            let spans = std::mem::take(&mut *spans.lock().unwrap_or_else(|e| e.into_inner()));
            eprint!("{}", chart(title, &spans, self.origin.elapsed()));
        }
    }
}

/// Where the calling code runs: its thread and process.
pub fn place() -> String {
    let pid = std::process::id();
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => format!("thread {name} (pid {pid})"),
        None => format!("{:?} (pid {pid})", thread.id()),
    }
}

#[cfg(feature = "progress")]
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tasks, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Draws the timeline chart of `spans`: one row per task, `#` where it ran.
///
/// ```
/// use std::time::Duration;
/// use fanout::WorkerName;
/// use fanout::report::{Span, chart};
///
/// let span = |name, start, end| Span {
///     name: WorkerName::new(name),
///     start: Duration::from_millis(start),
///     end: Duration::from_millis(end),
///     place: "thread a (pid 1)".into(),
/// };
/// let text = chart("demo", &[span("a", 0, 50), span("b", 50, 100)], Duration::from_millis(100));
/// assert!(text.contains("a "));
/// assert!(text.lines().nth(1).unwrap().contains('#'));
/// ```
pub fn chart(title: &str, spans: &[Span], total: Duration) -> String {
    const WIDTH: usize = 40;
    let mut spans = spans.to_vec();
    spans.sort_by_key(|s| (s.name.index(), s.start));
    let total = total.max(spans.iter().map(|s| s.end).max().unwrap_or_default());
    let scale = |d: Duration| -> usize {
        if total.is_zero() {
            0
        } else {
            ((d.as_secs_f64() / total.as_secs_f64()) * WIDTH as f64).round() as usize
        }
    };
    let names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    let mut places: Vec<&str> = Vec::new();
    for span in &spans {
        if !places.contains(&span.place.as_str()) {
            places.push(&span.place);
        }
    }
    let mut out = format!(
        "timeline of {title}: {total:.2?} in all, on {}\n",
        match places.len() {
            1 => "one thread or process".to_owned(),
            n => format!("{n} threads or processes"),
        }
    );
    for (span, name) in spans.iter().zip(&names) {
        let from = scale(span.start).min(WIDTH);
        let to = scale(span.end).clamp(from + 1, WIDTH.max(from + 1));
        let bar: String = (0..WIDTH.max(to))
            .map(|k| if k >= from && k < to { '#' } else { '.' })
            .collect();
        let _ = writeln!(
            out,
            "  {name:<width$} |{bar}| {:>8.1?}..{:<8.1?} {}",
            span.start, span.end, span.place
        );
    }
    out
}
