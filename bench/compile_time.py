#!/usr/bin/env python3
"""Compile time: a file with 200 fanout macro invocations against the same file
written by hand (std::thread::scope, rayon, futures::join!/join_all).

Builds two crates in a temporary workspace whose dependencies are this
checkout (by path) and the same registry crates, in the dev profile (the
edit-compile loop). Dependencies are built once first; then, for each crate:
- clean build of the file: `cargo clean -p CRATE` then `cargo build -p CRATE`;
- incremental rebuild: one constant of the file changed, then `cargo build`.
Prints a Markdown table of the medians and the ratios macros / hand-written.

Standard library only. Usage: python3 bench/compile_time.py [--rounds N] [--keep]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KINDS = 5
PER_KIND = 40  # 5 kinds x 40 = 200 invocations

PRELUDE_MACROS = """\
#![allow(clippy::all, dead_code)]
fn work(i: u64) -> u64 { i * 2 + 1 }
async fn fut(i: u64) -> u64 { i + 1 }
"""

PRELUDE_HAND = """\
#![allow(clippy::all, dead_code)]
use rayon::prelude::*;
fn work(i: u64) -> u64 { i * 2 + 1 }
async fn fut(i: u64) -> u64 { i + 1 }
fn pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap())
}
"""


def macro_item(kind, k):
    """Invocation `k` of kind `kind`, with the macros."""
    return [
        f"pub fn list_{k}() -> (u64, u64) {{ fanout::spawn_threads!(|| work({k}), || work({k} + 1)) }}",
        f"pub fn each_{k}() -> Vec<u64> {{ fanout::spawn_threads!(for i in 0..{k} => work(i)) }}",
        f"pub fn map_{k}() -> Vec<u64> {{ fanout::pool_map!(work, 0..{k}u64; workers = 4) }}",
        f"pub async fn join_{k}() -> (u64, u64) {{ fanout::gather!(fut({k}), fut({k} + 1)) }}",
        f"pub async fn gather_{k}() -> Vec<u64> {{ fanout::gather!(for i in 0..{k} => fut(i)) }}",
    ][kind]


def hand_item(kind, k):
    """The same as `macro_item(kind, k)`, written by hand."""
    return [
        f"""pub fn list_{k}() -> (u64, u64) {{
    std::thread::scope(|s| {{
        let a = s.spawn(|| work({k}));
        let b = s.spawn(|| work({k} + 1));
        (a.join().unwrap(), b.join().unwrap())
    }})
}}""",
        f"""pub fn each_{k}() -> Vec<u64> {{
    std::thread::scope(|s| {{
        let handles: Vec<_> = (0..{k}).map(|i| s.spawn(move || work(i))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }})
}}""",
        f"""pub fn map_{k}() -> Vec<u64> {{
    pool().install(|| (0..{k}u64).into_par_iter().map(work).collect())
}}""",
        f"pub async fn join_{k}() -> (u64, u64) {{ futures::join!(fut({k}), fut({k} + 1)) }}",
        f"""pub async fn gather_{k}() -> Vec<u64> {{
    futures::future::join_all((0..{k}).map(fut)).await
}}""",
    ][kind]


def source(prelude, item, edit):
    lines = [prelude, f"pub const EDIT: u64 = {edit};"]
    for k in range(PER_KIND):
        for kind in range(KINDS):
            lines.append(item(kind, k))
    return "\n".join(lines) + "\n"


def write_workspace(root, repo):
    (root / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["with_macros", "by_hand"]\nresolver = "3"\n'
    )
    lock = repo / "Cargo.lock"
    if lock.exists():
        shutil.copy(lock, root / "Cargo.lock")  # same versions as the project
    deps = {
        "with_macros": f'fanout = {{ path = "{repo}" }}\n',
        "by_hand": 'rayon = "1.12"\nfutures = "0.3.34"\n',
    }
    for name, dep in deps.items():
        crate = root / name
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2024"\n\n'
            f"[dependencies]\n{dep}"
        )
    (root / "with_macros" / "src" / "lib.rs").write_text(source(PRELUDE_MACROS, macro_item, 0))
    (root / "by_hand" / "src" / "lib.rs").write_text(source(PRELUDE_HAND, hand_item, 0))


def cargo(root, *args, offline=True):
    """Runs cargo in the workspace `root`; returns the seconds it took. The
    timed builds are offline: nothing but the compiler is measured."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(root / "target"), CARGO_TERM_COLOR="never")
    command = ["cargo", *args] + (["--offline"] if offline else [])
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode(errors='replace')}")
    return time.perf_counter() - start


EDITS = iter(range(1, 1_000_000))


def measure(root, crate, rounds):
    """Medians (clean build of the crate, incremental rebuild), in seconds.
    The incremental rebuild follows a real edit: a constant of the file changes."""
    clean, incremental = [], []
    lib = root / crate / "src" / "lib.rs"
    prelude, item = (PRELUDE_MACROS, macro_item) if crate == "with_macros" else (PRELUDE_HAND, hand_item)
    for _ in range(rounds):
        cargo(root, "clean", "-p", crate)
        clean.append(cargo(root, "build", "-p", crate))
        lib.write_text(source(prelude, item, next(EDITS)))
        incremental.append(cargo(root, "build", "-p", crate))
    return statistics.median(clean), statistics.median(incremental)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--repo", type=Path, default=REPO, help="the fanout checkout to build against")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fanout-compile-"))
    try:
        write_workspace(root, args.repo.resolve())
        cargo(root, "build", offline=False)  # dependencies, once (fetched if needed)
        results = {}
        # Alternate the crates round by round so load drift hits both.
        samples = {"with_macros": ([], []), "by_hand": ([], [])}
        for crate in samples:
            measure(root, crate, 1)  # warm-up round, not counted
        for _ in range(args.rounds):
            for crate in samples:
                clean, incremental = measure(root, crate, 1)
                samples[crate][0].append(clean)
                samples[crate][1].append(incremental)
        for crate, (clean, incremental) in samples.items():
            results[crate] = (statistics.median(clean), statistics.median(incremental))
        print(f"compile time of {KINDS * PER_KIND} invocations (dev profile, medians of {args.rounds}):")
        print()
        print("| build | with the macros | by hand | macros / hand | target |")
        print("|---|---:|---:|---:|---:|")
        for label, k in [("clean build of the file", 0), ("incremental rebuild", 1)]:
            m, h = results["with_macros"][k], results["by_hand"][k]
            verdict = "✓" if m / h <= 1.5 else "✗"
            print(f"| {label} | {m:.2f} s | {h:.2f} s | {m / h:.2f} {verdict} | ≤ 1.50 |")
        if args.keep:
            print(f"\nworkspace kept in {root}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
