"""400 CPU-bound items (~1 ms each in Rust) on a ProcessPoolExecutor of 2
workers. Measured on 20 items, scaled linearly.
fanout: `pool_map!(cpu_item, 0..400; processes, workers = 2)`."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import timing
from cpu import cpu_item


def run(n):
    with ProcessPoolExecutor(max_workers=2) as executor:
        return list(executor.map(cpu_item, range(n)))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    timing.main(run, full_n=400, measured_n=20, rounds=3, quick_rounds=1)
