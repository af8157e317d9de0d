"""The CPU-bound item of the pool workloads: the same multiply-add chain as
`cpu_item` in benches/compare/workloads.rs (about 1 ms in Rust)."""

ITERATIONS = 730_000
MASK = (1 << 64) - 1


def cpu_item(seed):
    x = seed
    for _ in range(ITERATIONS):
        x = ((x * 6364136223846793005 + 1442695040888963407) & MASK) >> 1
    return x
