"""processes.py (20 processes returning a number through a Queue) from a
parent holding a touched 1 GiB bytearray: what fork's page-table copy costs.
fanout: `spawn_processes!(for i in 0..20 => number(i))` beside a 1 GiB Vec."""

import multiprocessing

import processes
import timing

HELD = bytearray(b"\x01") * (1 << 30)

if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    timing.main(processes.run, full_n=20, rounds=7, check=processes.number)
