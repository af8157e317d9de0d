"""Peak RSS of 10 000 000 squares through `Pool.imap` (2 processes) summed as
they arrive: the streaming map of Python before 3.14's `Executor.map(buffersize=)`.
Prints the parent's peak RSS in KiB (`ru_maxrss`).
fanout: `pool_map!(square, 0..N; workers = 2, stream).sum()`."""

import multiprocessing
import resource

N = 10_000_000


def square(number):
    return number * number


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(2) as pool:
        total = sum(pool.imap(square, range(N), chunksize=10_000))
    assert total == (N - 1) * N * (2 * N - 1) // 6
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
