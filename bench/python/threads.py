"""1 000 threads that each return a number: the tutorial's threading example
(`Thread(target=worker, args=(i,))`, start, join), with results kept in a list.
fanout: `spawn_threads!(for i in 0..1000 => number(i))`."""

import threading

import timing


def number(i):
    return i * 2 + 1


def worker(i, results):
    results[i] = number(i)


def run(n):
    results = [None] * n
    threads = [threading.Thread(target=worker, args=(i, results)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


if __name__ == "__main__":
    timing.main(run, full_n=1_000, rounds=11, check=number)
