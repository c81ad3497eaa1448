"""mozaik's ``PickledDataStore`` protocol, reproduced for benchmarking (not its code).

What mozaik does (``../shared/reference/baselines.md``):

- ``add_recording`` pickles each whole ``neo.Segment`` to ``Segment<N>.pickle`` (no temp
  file, no fsync) and keeps a data-less shell of it;
- ``save()`` pickles a ``neo.Block`` of the shells (block annotations ``neuron_ids``,
  ``neuron_positions``) to ``datastore.recordings.pickle`` and every analysis result to
  ``datastore.analysis.pickle``; opening a store unpickles both;
- the first access to a segment's data unpickles the whole segment; ``get_spiketrain(id)``
  then finds the train by ``list.index`` over the ids, ``get_vm(id)`` slices one column of
  the 2-D signal, ``mean_rates``/``cv_isi`` loop in Python over the trains;
- queries loop in Python over every segment or ADS, parsing stimulus strings as they go.

Used by ``python -m benchmarks`` (the suite); ``bench_store.py`` has an older inline copy of
the segment part.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as qt

from mozaik_arrow.parametrized import MozaikParametrized

__all__ = ["PickledSegment", "PickledDataStore", "filter_ads", "filter_segments",
           "partition_ads", "partition_ads_by_stimulus"]


class PickledSegment(neo.Segment):
    """A data-less shell of one pickled segment (mozaik's ``PickledDataStoreNeoWrapper``).

    The whole segment is unpickled on the first access to its data and kept until
    :meth:`release`.
    """

    def __init__(self, path: str, sheet_name: str, stimulus: str, null: bool) -> None:
        super().__init__(sheet_name=sheet_name, stimulus=stimulus)
        self.path, self.null, self.full = path, null, False
        self._data: neo.Segment | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_data"], state["full"] = None, False  # shells hold no data
        return state

    def load_full(self) -> None:
        """Unpickle the whole segment."""
        with open(self.path, "rb") as f:
            self._data = pickle.load(f)
        self.full = True

    def release(self) -> None:
        """Forget the loaded data."""
        self._data, self.full = None, False

    def get_spiketrains(self) -> list[neo.SpikeTrain]:
        """Every spike train (loads the segment on first access)."""
        if not self.full:
            self.load_full()
        return self._data.spiketrains

    def get_spiketrain(self, neuron_id: int | Sequence[int]) -> Any:
        """The train of ``neuron_id`` (or a list), found by ``list.index`` over the ids."""
        trains = self.get_spiketrains()
        ids = [s.annotations["source_id"] for s in trains]
        if isinstance(neuron_id, (list, tuple, np.ndarray)):
            return [trains[ids.index(i)] for i in neuron_id]
        return trains[ids.index(neuron_id)]

    def get_vm(self, neuron_id: int) -> neo.AnalogSignal:
        """The ``v`` signal of one neuron: a column of the 2-D signal."""
        if not self.full:
            self.load_full()
        for a in self._data.analogsignals:
            if a.name == "v":
                return a[:, list(a.annotations["source_ids"]).index(neuron_id)]
        raise ValueError(f"no Vm of neuron {neuron_id}")

    def mean_rates(self) -> list[float]:
        """Spikes/s of every train, as mozaik computes them (a Python loop)."""
        return [len(s) / (s.t_stop.rescale(qt.s).magnitude - s.t_start.rescale(qt.s).magnitude)
                for s in self.get_spiketrains()]

    def isi(self) -> list[np.ndarray]:
        """``numpy.diff`` of every train."""
        return [np.diff(s) for s in self.get_spiketrains()]

    def cv_isi(self) -> list[float | None]:
        """std/mean of the ISIs of trains with more than four ISIs, else None."""
        return [float(np.std(i) / np.mean(i)) if len(i) > 4 else None for i in self.isi()]


class PickledDataStore:
    """A directory of pickles laid out as mozaik's ``PickledDataStore`` lays them out.

    Parameters
    ----------
    root : Path
        The store directory.
    load : bool
        Open an existing store (unpickle the shells and the analysis results) or create one.
    """

    def __init__(self, root: Path, load: bool) -> None:
        self.root = Path(root)
        if load:
            with open(self.root / "datastore.recordings.pickle", "rb") as f:
                self.block: neo.Block = pickle.load(f)
            with open(self.root / "datastore.analysis.pickle", "rb") as f:
                self.analysis_results: list = pickle.load(f)
        else:
            self.root.mkdir(parents=True, exist_ok=False)
            self.block = neo.Block()
            self.analysis_results = []

    def set_neuron_ids(self, ids: dict[str, np.ndarray]) -> None:
        """Block annotation ``neuron_ids``."""
        self.block.annotations["neuron_ids"] = ids

    def set_neuron_positions(self, positions: dict[str, np.ndarray]) -> None:
        """Block annotation ``neuron_positions``."""
        self.block.annotations["neuron_positions"] = positions

    def _add(self, segments: Iterable[neo.Segment], stimulus: Any, null: bool) -> None:
        for seg in segments:
            seg.annotations["stimulus"] = str(stimulus)
            path = self.root / f"Segment{len(self.block.segments)}.pickle"
            with open(path, "wb") as f:
                pickle.dump(seg, f, protocol=pickle.HIGHEST_PROTOCOL)
            self.block.segments.append(PickledSegment(
                str(path), seg.annotations["sheet_name"], str(stimulus), null))

    def add_recording(self, segments: Iterable[neo.Segment], stimulus: Any) -> None:
        """Pickle each segment whole; keep its shell."""
        self._add(segments, stimulus, False)

    def add_null_recording(self, segments: Iterable[neo.Segment], stimulus: Any) -> None:
        """Pickle each blank segment whole; keep its shell (``null`` set)."""
        self._add(segments, stimulus, True)

    def add_analysis_result(self, result: Any) -> None:
        """Append an ADS (mozaik also compares it with every stored one: O(n^2); see
        ``bench_queries`` for that cost, not repeated here)."""
        self.analysis_results.append(result)

    def save(self) -> None:
        """Pickle the shells and every analysis result (rewritten whole)."""
        with open(self.root / "datastore.recordings.pickle", "wb") as f:
            pickle.dump(self.block, f, protocol=pickle.HIGHEST_PROTOCOL)
        with open(self.root / "datastore.analysis.pickle", "wb") as f:
            pickle.dump(self.analysis_results, f, protocol=pickle.HIGHEST_PROTOCOL)

    def get_segments(self, null: bool = False) -> list[PickledSegment]:
        """The shells of the (null) recordings."""
        return [s for s in self.block.segments if s.null == null]


def _matches(params: dict[str, Any], kwargs: dict[str, Any]) -> bool:
    return all(k in params and (params[k] in v if isinstance(v, list) else params[k] == v)
               for k, v in kwargs.items())


def filter_segments(segments: Iterable[PickledSegment], **kwargs: Any) -> list[PickledSegment]:
    """mozaik's ``param_filter_query`` over recordings: ``sheet_name`` and ``st_`` keys,
    each segment's stimulus string parsed in the loop."""
    st = {k[3:]: v for k, v in kwargs.items() if k.startswith("st_")}
    sheets = kwargs.get("sheet_name")
    out = []
    for s in segments:
        if sheets is not None and s.annotations["sheet_name"] not in np.atleast_1d(sheets):
            continue
        if st and not _matches(MozaikParametrized.idd(s.annotations["stimulus"]).getParams(), st):
            continue
        out.append(s)
    return out


def filter_ads(ads: Iterable[Any], **kwargs: Any) -> list[Any]:
    """mozaik's ``param_filter_query`` over ADS: ``getParams()`` of each compared, and for
    ``st_`` keys its ``stimulus_id`` parsed."""
    st = {k[3:]: v for k, v in kwargs.items() if k.startswith("st_")}
    rest = {k: v for k, v in kwargs.items() if not k.startswith("st_")}
    out = []
    for a in ads:
        if rest and not _matches(a.getParams(), rest):
            continue
        if st and (a.stimulus_id is None or not _matches(
                MozaikParametrized.idd(a.stimulus_id).getParams(), st)):
            continue
        out.append(a)
    return out


def _group(items: Iterable[Any], key) -> list[list[Any]]:
    groups: dict[str, list[Any]] = {}
    for a in items:
        groups.setdefault(key(a), []).append(a)
    return list(groups.values())


def partition_ads(ads: Iterable[Any], parameter_list: Sequence[str]) -> list[list[Any]]:
    """mozaik's ``partition_analysis_results_by_parameters_query``: groups of ADS equal in
    every parameter but those listed (a Python loop over ``getParams()``)."""
    drop = set(parameter_list)
    return _group(ads, lambda a: repr(sorted((k, v) for k, v in a.getParams().items()
                                             if k not in drop)))


def partition_ads_by_stimulus(ads: Iterable[Any], parameter_list: Sequence[str]
                              ) -> list[list[Any]]:
    """mozaik's ``partition_analysis_results_by_stimulus_parameters_query``: groups of ADS
    whose stimuli are equal but for the listed parameters (each stimulus string parsed)."""
    drop = set(parameter_list)

    def key(a: Any) -> str:
        p = MozaikParametrized.idd(a.stimulus_id).getParams()
        return repr(sorted((k, v) for k, v in p.items() if k not in drop))

    return _group(ads, key)
