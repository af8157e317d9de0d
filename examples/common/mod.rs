//! What the examples share: printing a line, and sleeps that the tour and the
//! tests can speed up.
//!
//! Every example keeps the tutorial's durations (`time.sleep(0.5)` is
//! `pause(0.5)`), divided by the speed: `FANOUT_TOUR_SPEED=10 cargo run
//! --example tour` runs every sleep ten times faster. Tests call
//! [`set_speed`] instead, which needs no environment variable.
//!
//! This is a directory module (`common/mod.rs`), so cargo does not take it for
//! an example of its own.

use std::fmt::Display;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The environment variable that divides every sleep.
pub const SPEED_VAR: &str = "FANOUT_TOUR_SPEED";

/// The speed set by [`set_speed`], as `f64` bits; 0 when unset.
static SPEED: AtomicU64 = AtomicU64::new(0);

/// Divides every later sleep by `speed` (overrides `FANOUT_TOUR_SPEED`).
///
/// # Panics
/// If `speed` is not a positive, finite number.
pub fn set_speed(speed: f64) {
    assert!(
        speed.is_finite() && speed > 0.0,
        "the speed divides every sleep: it must be a positive number, not {speed}"
    );
    SPEED.store(speed.to_bits(), Ordering::Relaxed);
}

/// The current speed: [`set_speed`]'s, else `FANOUT_TOUR_SPEED`'s, else 1.
pub fn speed() -> f64 {
    match SPEED.load(Ordering::Relaxed) {
        0 => speed_from_env(),
        bits => f64::from_bits(bits),
    }
}

fn speed_from_env() -> f64 {
    static FROM_ENV: OnceLock<f64> = OnceLock::new();
    *FROM_ENV.get_or_init(|| {
        let Ok(text) = std::env::var(SPEED_VAR) else {
            return 1.0;
        };
        match text.trim().parse::<f64>() {
            Ok(speed) if speed.is_finite() && speed > 0.0 => speed,
            _ => {
                eprintln!(
                    "warning: {SPEED_VAR}={text:?} is not a positive number; running at normal speed"
                );
                1.0
            }
        }
    })
}

/// `secs` seconds of the tutorial, divided by the speed.
pub fn scaled(secs: f64) -> Duration {
    Duration::from_secs_f64(secs / speed())
}

/// `time.sleep(secs)`, divided by the speed.
pub fn pause(secs: f64) {
    std::thread::sleep(scaled(secs));
}

/// `await asyncio.sleep(secs)`, divided by the speed.
pub async fn pause_async(secs: f64) {
    tokio::time::sleep(scaled(secs)).await;
}

/// `print(line)`: prints the line and returns it, so that a program's output
/// can also be checked by the tests.
pub fn say(line: impl Display) -> String {
    let line = line.to_string();
    println!("{line}");
    line
}

/// Runs `program` and measures it.
pub fn timed<T>(program: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let output = program();
    (output, start.elapsed())
}

/// A duration as the examples print it: `1.00 s`, or `3.2 ms` when short.
pub fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 0.1 {
        format!("{:.1} ms", secs * 1000.0)
    } else {
        format!("{secs:.2} s")
    }
}
