"""1 000 coroutines sleeping a random 0–2 ms each, at most 100 at once
(`asyncio.Semaphore(100)`), consumed as they complete (`as_completed`). The
delays come from the same fixed-seed LCG as the Rust rows.
fanout: `gather!(for i in 0..1000 => sleep_item(i); unordered, limit = 100)`."""

import asyncio

import timing

N = 1_000
LIMIT = 100


def delays(n):
    x, out = 42, []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(((x >> 33) % 2001) / 1e6)
    return out


DELAYS = delays(N)


def number(i):
    return i * 2 + 1


async def worker(i, semaphore):
    async with semaphore:
        await asyncio.sleep(DELAYS[i])
        return i, number(i)


async def unordered(n):
    semaphore = asyncio.Semaphore(LIMIT)
    results = [None] * n
    for done in asyncio.as_completed([worker(i, semaphore) for i in range(n)]):
        i, value = await done
        results[i] = value
    return results


def run(n):
    return asyncio.run(unordered(n))


if __name__ == "__main__":
    timing.main(run, full_n=N, rounds=7, check=number)
