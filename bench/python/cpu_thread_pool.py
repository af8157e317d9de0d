"""400 CPU-bound items (~1 ms each in Rust) on a ThreadPoolExecutor of 2
threads. The GIL runs one at a time. Measured on 20 items, scaled linearly.
fanout: `pool_map!(cpu_item, 0..400; workers = 2)`."""

from concurrent.futures import ThreadPoolExecutor

import timing
from cpu import cpu_item

EXECUTOR = ThreadPoolExecutor(max_workers=2)


def run(n):
    return list(EXECUTOR.map(cpu_item, range(n)))


if __name__ == "__main__":
    timing.main(run, full_n=400, measured_n=20, rounds=3, quick_rounds=1)
