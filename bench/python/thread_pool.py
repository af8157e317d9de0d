"""ThreadPoolExecutor.map of 1 000 000 squares on 4 threads: the tutorial's
concurrent.futures example. The executor is created once, outside the timing
(as fanout and rayon keep their pools). Measured on 100 000 items and scaled
linearly: one item costs the same whatever the count.
fanout: `pool_map!(square, 0..1_000_000; workers = 4)`."""

from concurrent.futures import ThreadPoolExecutor

import timing

EXECUTOR = ThreadPoolExecutor(max_workers=4)


def square(number):
    return number * number


def run(n):
    return list(EXECUTOR.map(square, range(n)))


if __name__ == "__main__":
    timing.main(run, full_n=1_000_000, measured_n=100_000, rounds=5, check=square)
