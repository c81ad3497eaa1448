"""A writer process for concurrency tests: appends recordings for trials FIRST..FIRST+COUNT-1.

Usage: python -m tests._append_writer STORE FIRST COUNT
"""

from __future__ import annotations

import sys

import mozaik_arrow as ma
from mozaik_arrow.synthetic import synthetic_segment

from ._crash_writer import stimulus


def main() -> None:
    path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with ma.open(path, "a") as store:
        for i in range(first, first + count):
            store.add_recording(synthetic_segment("V1_Exc_L4", 50, seed=i), stimulus(i))
            print(f"ACK {i}", flush=True)


if __name__ == "__main__":
    main()
