"""The stimuli the queries compare: a view's stimulus metadata, ADS rows with their
stimuli's parameters, and which stimuli, recordings and ADS match stimulus parameters.

``param_filter_query`` on a store picks recordings through per-snapshot indexes (stimulus
parameter pair -> stimulus keys, stimulus key / sheet -> segments rows, built once per
snapshot): set lookups, no polars plan collected. Stimuli of analysis results that the
store holds no recording of (mozaik's trial-averaging analyses make such ids) are matched
by parsing their strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from .flatten import pair, param_pairs, stimulus_params
from .pair_match import _any_of, _pairs_match
from .parametrized import canonical_stimulus

if TYPE_CHECKING:
    from .snapshot import Snapshot
    from .view import DataStoreView, Selected


def _stimuli(dsv: DataStoreView) -> pl.LazyFrame:
    return dsv.full_datastore._stimuli_metadata()


def _ads_with_stimulus_pairs(dsv: DataStoreView) -> pl.DataFrame:
    """The view's ADS rows with the ``_pairs`` and ``module_path`` of their stimulus
    (``_st_pairs``, ``_st_module``)."""
    ads = dsv._ads().collect()
    stim = _stimuli(dsv).select("stimulus", pl.col("_pairs").alias("_st_pairs"),
                                pl.col("module_path").alias("_st_module")).collect()
    out = ads.join(stim, on="stimulus", how="left", maintain_order="left")
    unknown = out.filter(pl.col("stimulus").is_not_null() & pl.col("_st_pairs").is_null())
    if unknown.height:  # stimuli of analysis results that the store holds no recording of
        strings = unknown["stimulus_id"].unique(maintain_order=True).to_list()
        parsed = [canonical_stimulus(s) for s in strings]
        extra = pl.DataFrame({
            "stimulus": [key for _, key, _ in parsed],
            "_st_extra": [param_pairs(stimulus_params(s)) for s in strings],
            "_st_extra_module": [params["module_path"] for _, _, params in parsed],
        })
        out = out.join(extra, on="stimulus", how="left", maintain_order="left").with_columns(
            pl.coalesce("_st_pairs", "_st_extra").alias("_st_pairs"),
            pl.coalesce("_st_module", "_st_extra_module").alias("_st_module"),
        ).drop("_st_extra", "_st_extra_module")
    return out


# -- stimulus matching -------------------------------------------------------------------------
def _stimulus_matches(text: str, st: Mapping[str, Any]) -> bool:
    """Whether the stimulus string ``text`` matches ``st`` (for stimuli not in the index)."""
    return _pairs_match(param_pairs(stimulus_params(text)), st)


def _stimulus_index(snap: Snapshot) -> dict[str, set[str]]:
    """pair -> keys of the snapshot's stimuli having it (built once per snapshot)."""
    index: dict[str, set[str]] = {}
    for key, pairs in zip(snap.column("stimuli", "stimulus"), snap.column("stimuli", "_pairs"),
                          strict=True):
        for p in pairs:
            index.setdefault(p, set()).add(key)
    return index


def _rows_index(snap: Snapshot) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Positions of the snapshot's segments rows by stimulus key and by sheet (built once)."""
    by_stimulus: dict[str, list[int]] = {}
    by_sheet: dict[str, list[int]] = {}
    for i, (key, sheet) in enumerate(zip(snap.column("segments", "stimulus"),
                                         snap.column("segments", "sheet_name"), strict=True)):
        by_stimulus.setdefault(key, []).append(i)
        by_sheet.setdefault(sheet, []).append(i)
    return by_stimulus, by_sheet


def _pick(selected: Selected, keys: set[str] | None, sheets: set[str] | None
          ) -> tuple[int, ...] | None:
    """Positions of ``selected`` whose stimulus is in ``keys`` and sheet in ``sheets`` (None:
    any), in store order: an index lookup, O(result) for a store. None: every row."""
    by_stimulus, by_sheet = selected.snap.memo("segments_index", _rows_index)
    found: set[int] | None = None
    if keys is not None:
        found = {i for k in keys for i in by_stimulus.get(k, ())}
    if sheets is not None:
        on = {i for sh in sheets for i in by_sheet.get(sh, ())}
        found = on if found is None else found & on
    if selected.positions is not None:
        found = set(selected.positions) if found is None else found.intersection(selected.positions)
    return None if found is None else tuple(sorted(found))


def _matching_stimuli(snap: Snapshot, st: Mapping[str, Any]) -> set[str]:
    """Keys of the snapshot's stimuli whose parameters match ``st`` (set lookups, no plan)."""
    index = snap.memo("stimulus_pairs", _stimulus_index)
    keys: set[str] | None = None
    for name, value in st.items():
        hit: set[str] = set()
        for v in _any_of(value):
            hit |= index.get(pair(name, v), set())
        keys = hit if keys is None else keys & hit
    return keys if keys is not None else set()


def _unstored_matching(strings: Mapping[str, str], stored: set[str],
                       st: Mapping[str, Any]) -> list[str]:
    """Keys of ADS stimuli (key -> string) the store holds no recording of that match ``st``."""
    return [k for k, text in strings.items() if k not in stored and _stimulus_matches(text, st)]


def _stored_keys(snap: Snapshot) -> set[str]:
    return set(snap.column("stimuli", "stimulus"))


def _ads_with_stimulus(plan: pl.LazyFrame, st: Mapping[str, Any], matching: set[str],
                       stored: set[str]) -> pl.LazyFrame:
    """ADS of ``plan`` whose stimulus matches ``st``, for plans whose ADS stimuli are not
    known in advance (a fresh store's first scan, collections). ``matching`` holds the keys
    of the matching stored stimuli (``stored``: every stored key); a stimulus the store holds
    no recording of (mozaik's trial-averaging analyses make such ids, ``trial`` None) is
    matched by parsing its string, once per distinct stimulus."""

    def exact(frame: pl.DataFrame) -> pl.DataFrame:
        keys = frame.get_column("stimulus")
        # Decided once per distinct stimulus of the rows, in Python: few, and set lookups.
        distinct = [k for k in keys.unique().to_list() if k is not None]
        keep = [k for k in distinct if k in matching]
        unknown = [k for k in distinct if k not in stored]
        if unknown and "stimulus_id" in frame.columns:  # a parameter column: absent if unused
            others = frame.filter(keys.is_in(unknown)).unique("stimulus").select("stimulus", "stimulus_id")
            keep += [k for k, text in others.iter_rows() if _stimulus_matches(text, st)]
        return frame.filter(keys.is_in(keep))

    # A function of whole rows (it needs ``stimulus_id``, which later projections may drop),
    # and a barrier: the plan's own filters run first, so this sees only their rows.
    return plan.map_batches(exact)
