"""One child process returning 256 MiB of bytes through a
`multiprocessing.Queue` (`Process` + `Queue`, the parent gets, then joins).
fanout: `spawn_processes!(|| vec![7u8; 256 << 20])`."""

import multiprocessing

import timing

SIZE = 256 << 20


def worker(queue):
    queue.put(bytes([7]) * SIZE)


def run(_n):
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=worker, args=(queue,))
    process.start()
    data = queue.get()
    process.join()
    assert len(data) == SIZE and data[0] == 7 and data[-1] == 7
    return data


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    timing.main(run, full_n=1, rounds=5)
