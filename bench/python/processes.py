"""100 processes that each return a number: the tutorial's multiprocessing
example (`Process(target=worker, args=(i,))`, start, join), each child sending
its result back through a `multiprocessing.Queue`.
fanout: `spawn_processes!(for i in 0..100 => number(i))`."""

import multiprocessing

import timing


def number(i):
    return i * 2 + 1


def worker(i, queue):
    queue.put((i, number(i)))


def run(n):
    queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=worker, args=(i, queue)) for i in range(n)]
    for process in processes:
        process.start()
    results = [None] * n
    for _ in range(n):
        i, value = queue.get()
        results[i] = value
    for process in processes:
        process.join()
    return results


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    timing.main(run, full_n=100, rounds=7, check=number)
