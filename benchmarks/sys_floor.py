"""The plain-pyarrow floor: the model's arrays written and read with bare ``pyarrow.parquet``.

No store logic: no validation, no neo objects, no fsync, no commit log, one file per
recording and table written in turn (single-threaded), the encodings mozaik_arrow uses
(zstd, no dictionary, byte-stream-split floats; 128-neuron spike row groups, ~32 k-sample
signal row groups). Hive-partitioned like the store (``null=/sheet=/stimulus=``), with a
``stimuli.parquet`` beside it, so that the same SQL can run. What it measures is what the
Parquet engine costs; the difference to mozaik_arrow is what the store's own layer costs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mozaik_arrow.analytics import cv_isi_array
from mozaik_arrow.neo_convert import list_parts

from .generator import Model, SegmentData
from .operations import Op, Probe, binned_counts, order_key

SPIKE_ROWS = 128
SIGNAL_GROUP_VALUES = 32_768
SQL = """
SELECT sp.sheet AS sheet, st.orientation AS orientation, avg(len(sp.times) / {dur}) AS rate_hz
FROM read_parquet('{root}/spikes/null=false/sheet=*/stimulus=*/*.parquet', hive_partitioning = 1,
                  hive_types = {{'null': VARCHAR, 'sheet': VARCHAR, 'stimulus': VARCHAR}}) sp
JOIN read_parquet('{root}/stimuli.parquet') st USING (stimulus)
GROUP BY ALL
"""


def seg_path(root: Path, table: str, s: SegmentData, name: str = "part") -> Path:
    """Hive path of one recording's file of ``table``."""
    return (Path(root) / table / f"null={str(s.null).lower()}" / f"sheet={quote(s.sheet, safe='')}"
            / f"stimulus=k{s.stimulus:04d}" / f"{name}.parquet")


def _write(table: pa.Table, path: Path, rows: int, column: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=rows, compression="zstd", use_dictionary=False,
                   use_byte_stream_split=[f"{column}.list.element"])


def write_model(model: Model, root: Path, ads: list | None = None) -> dict[str, float]:
    """Write every recording's spikes and signals; return the timings (spikes and signals
    separately: the floors of the two write rates). ``ads`` is ignored."""
    spikes_s = signals_s = 0.0
    for s in model.segments:
        t = time.perf_counter()
        table = pa.table({"neuron_id": s.ids,
                          "times": pa.LargeListArray.from_arrays(s.offsets, s.values)})
        _write(table, seg_path(root, "spikes", s), SPIKE_ROWS, "times")
        spikes_s += time.perf_counter() - t
        t = time.perf_counter()
        for name, arr in s.signals.items():
            n_t, n = arr.shape
            samples = pa.LargeListArray.from_arrays(np.arange(n + 1) * n_t,
                                                    np.ascontiguousarray(arr.T).ravel())
            _write(pa.table({"neuron_id": s.signal_ids, "samples": samples}),
                   seg_path(root, "signals", s, name),
                   max(1, SIGNAL_GROUP_VALUES // n_t), "samples")
        signals_s += time.perf_counter() - t
    pq.write_table(pa.table({
        "stimulus": [f"k{k:04d}" for k in range(len(model.stimuli))],
        "orientation": [s.orientation for s in model.stimuli],
        "contrast": [s.contrast for s in model.stimuli],
        "trial": [s.trial for s in model.stimuli]}), Path(root) / "stimuli.parquet")
    return {"write_s": spikes_s + signals_s,
            "write_spikes_only_mps": model.n_spikes / spikes_s / 1e6,
            "write_signals_only_mps": model.n_samples / max(signals_s, 1e-9) / 1e6}


def sizes(model: Model, root: Path) -> dict[str, float]:
    """Size on disk, bytes per spike and per sample."""
    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in p.rglob("*.parquet"))
    root = Path(root)
    return {"size_mb": size(root) / 1e6,
            "bytes_per_spike": size(root / "spikes") / model.n_spikes,
            "bytes_per_sample": size(root / "signals") / max(1, model.n_samples)}


def ops(model: Model, probe: Probe, root: Path, small_path: Path | None = None,
        ads: list | None = None) -> dict[str, Op]:
    """The floor of each read operation it can do (no neo objects, no store logic)."""
    recs = sorted((s for s in model.segments if not s.null),
                  key=lambda s: order_key(s.sheet, s.stimulus))
    stim = [s for s in recs if s.stimulus == probe.stimulus]
    seg = next(s for s in stim if s.sheet == probe.sheet)
    pf = pq.ParquetFile(seg_path(root, "spikes", seg))
    vf = pq.ParquetFile(seg_path(root, "signals", seg, "v"))
    v_rows = vf.metadata.row_group(0).num_rows
    n_bins = int(math.ceil(model.scale.duration / probe.bin_ms))
    dur_s = model.scale.duration / 1000.0

    def one(i: int) -> Any:
        r = int(np.searchsorted(seg.ids, i))
        return pf.read_row_group(r // SPIKE_ROWS, columns=["times"]).column(0)[r % SPIKE_ROWS]

    def one_vm(i: int) -> Any:
        r = int(np.searchsorted(seg.signal_ids, i))
        return vf.read_row_group(r // v_rows, columns=["samples"]).column(0)[r % v_rows]

    def times(segs: list[SegmentData]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [list_parts(pq.read_table(seg_path(root, "spikes", s), columns=["times"])
                           .column(0)) for s in segs]

    def psth() -> np.ndarray:
        chosen = [s for s in recs if s.sheet == probe.sheet and s.stimulus in probe.psth_stimuli]
        total = 0
        for v, o in times(chosen):
            total = total + binned_counts(v, o, 0.0, probe.bin_ms, n_bins)
        return total / len(chosen) / (probe.bin_ms / 1000.0)

    def decode() -> list:
        return [pq.read_table(seg_path(root, "spikes", s)) for s in stim]

    def scalar_values(x: Any) -> np.ndarray:
        return x.values.to_numpy()

    return {
        "one_spiketrain_ms": Op(one, each=probe.neuron_ids, norm=scalar_values,
                                note="one row group, cached footer"),
        "one_vm_ms": Op(one_vm, each=probe.vm_ids, norm=scalar_values),
        "trains_stimulus_s": Op(decode, norm=lambda ts: (
            sum(t.num_rows for t in ts),
            sum(len(t.column("times").combine_chunks().flatten()) for t in ts)),
            note="decode only"),
        "rates_stimulus_ms": Op(lambda: [np.diff(o) / dur_s for _, o in times(stim)],
                                norm=np.concatenate),
        "rates_all_ms": Op(lambda: [np.diff(o) / (s.t_stop / 1000.0)
                                    for s, (_, o) in zip(recs, times(recs), strict=True)],
                           norm=np.concatenate, repeat=3),
        "cv_stimulus_ms": Op(lambda: [cv_isi_array(v, o) for v, o in times(stim)],
                             norm=np.concatenate),
        "cv_all_ms": Op(lambda: [cv_isi_array(v, o) for v, o in times(recs)],
                        norm=np.concatenate, repeat=3),
        "psth_ms": Op(psth),
        "sql_ms": Op(lambda: duckdb.sql(SQL.format(root=root, dur=dur_s)).fetchall(),
                     norm=lambda rows: {(r[0], round(r[1], 9)): r[2] for r in rows}),
    }
