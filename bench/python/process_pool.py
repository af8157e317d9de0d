"""ProcessPoolExecutor.map of 100 000 squares on 2 workers with chunksize, the
tutorial's ProcessPoolExecutor example. The pool is created inside the timing,
as the tutorial's `with` block does (fanout forks its workers per call too).
fanout: `pool_map!(square, 0..100_000; processes, workers = 2, chunksize = 12_500)`."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import timing

CHUNKSIZE = 12_500


def square(number):
    return number * number


def run(n):
    with ProcessPoolExecutor(max_workers=2) as executor:
        return list(executor.map(square, range(n), chunksize=CHUNKSIZE))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    timing.main(run, full_n=100_000, rounds=7, check=square)
