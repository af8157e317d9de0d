//! Peak memory: each variant runs alone in a fresh child process (this same
//! binary, re-run with `--rss VARIANT`), which prints its peak resident set
//! size (`VmHWM` of /proc/self/status) once the output is complete.

use std::process::Command;

use crate::workloads;

/// Items of the pool_map! memory workload.
pub const POOL_ITEMS: u64 = 10_000_000;
/// Futures of the gather! memory workload.
pub const GATHER_FUTURES: u64 = 1_000_000;

/// The variants a child can run.
pub const VARIANTS: [&str; 7] = [
    "baseline",
    "stream-fanout",
    "collect-fanout",
    "pool-fanout",
    "pool-hand",
    "gather-fanout",
    "gather-hand",
];

/// In the child: runs `variant`, keeps its output alive, prints `VmHWM` in KiB.
pub fn child(variant: &str) {
    // Start the thread pools first in every variant, so the baseline counts
    // them too.
    let warm = workloads::pool_fanout(4).len() + workloads::pool_hand(4).len();
    let output: Vec<u64> = match variant {
        "baseline" => Vec::new(),
        "pool-fanout" => workloads::pool_fanout(POOL_ITEMS),
        "pool-hand" => workloads::pool_hand(POOL_ITEMS),
        "gather-fanout" => workloads::gather_fanout(GATHER_FUTURES),
        "gather-hand" => workloads::gather_hand(GATHER_FUTURES),
        // The stream-rss row: the same squares summed as they arrive, or
        // collected first and then summed (the vector kept alive).
        "stream-fanout" => {
            let stream = fanout::pool_map!(workloads::square, 0..POOL_ITEMS; workers = 2, stream);
            vec![stream.fold(0u64, u64::wrapping_add)]
        }
        "collect-fanout" => {
            let squares: Vec<u64> =
                fanout::pool_map!(workloads::square, 0..POOL_ITEMS; workers = 2);
            let sum = squares.iter().fold(0u64, |a, b| a.wrapping_add(*b));
            std::hint::black_box(&squares);
            vec![sum]
        }
        other => panic!("unknown variant {other}; expected one of {VARIANTS:?}"),
    };
    std::hint::black_box((&output, warm));
    println!("{}", peak_kib());
}

/// `VmHWM` of this process, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// In the parent: the peak RSS of `variant` in KiB (median of `runs` children).
pub fn measure(variant: &str, runs: usize) -> u64 {
    let exe = std::env::current_exe().expect("current_exe");
    let mut peaks: Vec<u64> = (0..runs)
        .map(|_| {
            let out = Command::new(&exe)
                .args(["--rss", variant])
                .output()
                .expect("run the memory child");
            assert!(
                out.status.success(),
                "memory child {variant} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("the child prints its peak in KiB")
        })
        .collect();
    peaks.sort_unstable();
    peaks[peaks.len() / 2]
}
