"""asyncio.gather of 100 000 coroutines that yield once (`await
asyncio.sleep(0)`): the tutorial's asyncio example,
`gather(*(worker(i) for i in range(n)))`, inside one `asyncio.run`.
fanout: `gather!(for i in 0..100_000 => yield_once(i))`."""

import asyncio
import time

import timing


def number(i):
    return i * 2 + 1


async def worker(i):
    await asyncio.sleep(0)
    return number(i)


async def gather(n):
    return await asyncio.gather(*(worker(i) for i in range(n)))


def run(n):
    return asyncio.run(gather(n))


if __name__ == "__main__":
    timing.main(run, full_n=100_000, rounds=7, check=number)
