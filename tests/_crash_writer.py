"""A writer process for crash tests: adds recordings and acknowledges each on stdout.

Usage: python -m tests._crash_writer STORE FIRST COUNT
Recording i holds two sheets of synthetic data seeded by i, under stimulus trial=i; after
each ``add_recording`` returns it prints ``ACK i``.
"""

from __future__ import annotations

import sys

import mozaik_arrow as ma
from mozaik_arrow.synthetic import synthetic_segment

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
        "orientation": 0.0, "trial": 0}


def segments(i: int):
    return [synthetic_segment("V1_Exc_L4", 400, n_signals=4, seed=i, first_id=1),
            synthetic_segment("V1_Inh_L4", 100, seed=10_000 + i, first_id=1000)]


def stimulus(i: int) -> dict:
    return dict(STIM, trial=i)


def main() -> None:
    path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with ma.open(path, "a") as store:
        for i in range(first, first + count):
            store.add_recording(segments(i), stimulus(i))
            print(f"ACK {i}", flush=True)


if __name__ == "__main__":
    main()
