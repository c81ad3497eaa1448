"""What the ``mozaik-arrow`` command reports, as plain functions without click or rich.

Store summaries (``summary``, ``store_info``), the listings of ``ls``, and the ``KEY=VALUE``
arguments that select them (``parse_query``). ``mozaik_arrow.cli`` re-exports the public ones.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from . import analytics, schema
from .parametrized import parse_stimulus_string
from .queries import param_filter_query
from .store import ArrowDataStore


# -- what the commands compute (plain functions: testable, reusable) ---------------------------
def summary(store: ArrowDataStore) -> pl.DataFrame:
    """One row per recording, in store order: sheet, stimulus, neurons, spikes, mean rate (Hz).

    Rates come from the stored per-neuron spike counts (no spike times are decoded).
    """
    spikes = store.spikes().select("segment_id", "units", "t_start", "t_stop", "n_spikes")
    units = spikes.select("units").unique().collect()["units"].to_list()
    factor = pl.DataFrame({"units": units, "to_s": [analytics.seconds_per_unit(u) for u in units]},
                          schema={"units": pl.String, "to_s": pl.Float64})
    duration = (pl.col("t_stop") - pl.col("t_start")) * pl.col("to_s")
    rates = (
        spikes.join(factor.lazy(), on="units")
        .group_by("segment_id")
        .agg(mean_rate_hz=(pl.col("n_spikes") / duration).mean())
    )
    out = (
        store.segments_frame()
        .join(rates, on="segment_id", how="left", maintain_order="left")
        .collect()
    )
    described = [_describe(s) for s in out["stimulus_string"].to_list()]
    return out.with_columns(pl.Series("stimulus_params", described, pl.String)).select(
        "sheet_name", "stimulus_params", "null", pl.col("n_neurons").alias("neurons"),
        pl.col("n_spikes").alias("spikes"), pl.col("mean_rate_hz").round(2),
    )


def _describe(stimulus_string: str) -> str:
    p = parse_stimulus_string(stimulus_string)
    keys = [k for k in ("orientation", "contrast", "trial") if k in p]
    shown = [f"{k}={round(p[k], 3) if isinstance(p[k], float) else p[k]!r}" for k in keys]
    return f"{p.get('name')}(" + ", ".join(shown) + ")"


def store_info(store: ArrowDataStore) -> dict[str, Any]:
    """What ``mozaik-arrow info --json`` prints: a summary of the committed store.

    Keys: ``path``, ``format_version``, ``version`` (commits), ``sheets``, ``segments``,
    ``null_segments``, ``stimuli``, ``neurons`` (sheet → count), ``spikes``, ``ads``
    (identifier → count), ``bytes`` (everything under the store directory).
    """
    segs = store.segments_frame().collect()
    real = segs.filter(~pl.col("null"))
    neurons: dict[str, int] = {}
    for sheet, n in segs.group_by("sheet_name", maintain_order=True).agg(
            pl.col("n_neurons").max()).iter_rows():
        neurons[sheet] = int(n)
    for sheet, state in store._neuron_state().items():
        if state.get("ids") is not None:
            neurons[sheet] = len(state["ids"])
    ads = store.ads_frame().select("identifier").collect()
    counts = ads.group_by("identifier", maintain_order=True).len()
    size = 0
    for base, _, files in os.walk(store.root):
        size += sum(os.lstat(os.path.join(base, f)).st_size for f in files)
    return {
        "path": store.root,
        "format_version": schema.FORMAT_VERSION,
        "version": store._snapshot().version,
        "sheets": store.sheets(),
        "segments": real.height,
        "null_segments": segs.height - real.height,
        "stimuli": real["stimulus"].n_unique(),
        "neurons": neurons,
        "spikes": int(segs["n_spikes"].sum()),
        "ads": dict(counts.iter_rows()),
        "bytes": size,
    }


def _literal(text: str) -> Any:
    """A Python literal (``0.0``, ``None``, ``'a,b'``, ``[1, 2]``) or, failing that, the text."""
    try:
        return ast.literal_eval(text)  # literals only: never evaluates code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_query(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments as ``param_filter_query`` keywords.

    Values are Python literals where they parse (``0.0``, ``3``, ``None``, ``True``,
    ``'quoted text'``) and plain text otherwise; ``a,b`` is a list (any of). Raises
    ``ValueError`` naming the argument when one has no ``=`` or an invalid key.
    """
    out: dict[str, Any] = {}
    for arg in pairs:
        key, sep, text = arg.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"bad query argument {arg!r}: expected KEY=VALUE, e.g. st_orientation=0.0")
        value = _literal(text)
        if isinstance(value, tuple):  # "1,2" is a tuple literal
            value = list(value)
        elif isinstance(value, str) and value == text and "," in text:
            value = [_literal(p) for p in text.split(",")]
        out[key] = value
    return out


def _listing(store: ArrowDataStore, what: str, query: dict[str, Any]) -> pl.DataFrame:

    if what == "stimuli":  # a stimulus has only stimulus parameters: `st_` is optional
        query = {k if k.startswith("st_") else f"st_{k}": v for k, v in query.items()}
    view = param_filter_query(store, **query) if query else store
    if what == "recordings":
        return view.segments_frame().select(
            "sheet_name", "stimulus_string", "null", "n_neurons", "n_spikes").collect()
    if what == "stimuli":
        return view.stimuli_frame().drop("stimulus").collect()
    frame = view.ads_frame().collect()
    return frame.drop([c for c in ("ads_key", "stimulus", "stimulus_id") if c in frame.columns]
                      ).with_columns(pl.col("tags").list.join(","))
