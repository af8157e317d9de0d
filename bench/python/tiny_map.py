"""ThreadPoolExecutor(2).map over 8 cheap items, 1 000 calls (the executor
created once), each call's squares summed.
fanout: `pool_map!(square, c..c + 8; workers = 2)` × 1 000."""

from concurrent.futures import ThreadPoolExecutor

import timing

EXECUTOR = ThreadPoolExecutor(max_workers=2)
ITEMS = 8


def square(number):
    return number * number


def run(calls):
    return [sum(EXECUTOR.map(square, range(c, c + ITEMS))) for c in range(calls)]


if __name__ == "__main__":
    timing.main(
        run,
        full_n=1_000,
        rounds=7,
        check=lambda c: sum(square(i) for i in range(c, c + ITEMS)),
    )
