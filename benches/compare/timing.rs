//! Side-by-side timing: the fanout and hand-written versions of a workload run
//! in alternating order (ABBA), so that drift in the machine's load hits both.

use std::time::{Duration, Instant};

/// The timings of both versions of one workload.
pub struct Pair {
    pub fanout: Vec<Duration>,
    pub hand: Vec<Duration>,
    /// The floor's timings, where the workload has one (else empty).
    pub floor: Vec<Duration>,
}

impl Pair {
    /// Median of the fanout runs.
    pub fn fanout_median(&self) -> Duration {
        median(&self.fanout)
    }

    /// Median of the hand-written runs.
    pub fn hand_median(&self) -> Duration {
        median(&self.hand)
    }

    /// Median of the floor runs, if the workload has a floor.
    pub fn floor_median(&self) -> Option<Duration> {
        (!self.floor.is_empty()).then(|| median(&self.floor))
    }

    /// fanout / hand-written, from the medians.
    pub fn ratio(&self) -> f64 {
        self.fanout_median().as_secs_f64() / self.hand_median().as_secs_f64()
    }

    /// The median of the per-round ratios (each round runs both back to back):
    /// a second view that a slow stretch of the machine cannot skew.
    pub fn paired_ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self
            .fanout
            .iter()
            .zip(&self.hand)
            .map(|(f, h)| f.as_secs_f64() / h.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }
}

/// Runs `fanout` and `hand` `rounds` times each, alternating which goes first,
/// after one unmeasured warm-up run of each; the `floor`, if any, runs as
/// many times after all the rounds (its output is not checked). Each side returns its
/// output and how long it took (see [`timed`]); the outputs are checked to be
/// the same for both (so both did the same work).
pub fn compare<T: PartialEq + std::fmt::Debug>(
    rounds: usize,
    mut fanout: impl FnMut() -> (T, Duration),
    mut hand: impl FnMut() -> (T, Duration),
    mut floor: Option<&mut dyn FnMut() -> Duration>,
) -> Pair {
    assert_eq!(
        fanout().0,
        hand().0,
        "fanout and hand-written outputs differ"
    );
    if let Some(floor) = floor.as_mut() {
        floor();
    }
    let mut pair = Pair {
        fanout: Vec::with_capacity(rounds),
        hand: Vec::with_capacity(rounds),
        floor: Vec::with_capacity(rounds),
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            pair.fanout.push(fanout().1);
            pair.hand.push(hand().1);
        } else {
            pair.hand.push(hand().1);
            pair.fanout.push(fanout().1);
        }
    }
    // After the pairs, not between them: a floor run before every round
    // would come before fanout's runs more often than before the other
    // side's (a rayon pool's threads still spinning from the floor took the
    // cores from fanout's pool: ~8% on cheap items).
    if let Some(floor) = floor.as_mut() {
        for _ in 0..rounds {
            pair.floor.push(floor());
        }
    }
    pair
}

/// Runs `f` and times the whole call; the output is returned (and dropped by
/// the caller, outside the time).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = std::hint::black_box(f());
    (out, start.elapsed())
}

/// The median of `samples` (the upper one of an even count).
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// `1.23 ms`, `456 µs`, `2.01 s`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}
