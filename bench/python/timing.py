"""Shared timing for the Python originals: run a workload several times and
print `median_s measured_n full_n` as the last line, which the Rust comparison
(`cargo bench --bench compare`) reads.

`measured_n` is smaller than `full_n` where the full size would take minutes in
Python: the comparison then scales the median linearly (and says so)."""

import argparse
import statistics
import time


def main(workload, full_n, measured_n=None, rounds=7, quick_rounds=3, check=None):
    """Times `workload(n)` `rounds` times (after one warm-up) and prints the median."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--n", type=int, help="measure this many items instead")
    args = parser.parse_args()
    n = args.n or measured_n or full_n
    rounds = quick_rounds if args.quick else rounds
    out = workload(n)
    if check is not None:
        assert out == [check(i) for i in range(n)], "wrong output"
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        workload(n)
        samples.append(time.perf_counter() - start)
    print(f"{statistics.median(samples):.6f} {n} {full_n}")
