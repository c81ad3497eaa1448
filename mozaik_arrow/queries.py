"""mozaik's query language, compiled to polars expressions over the metadata tables.

Every query takes a :class:`~mozaik_arrow.view.DataStoreView` and returns a new view (or a
list of views) whose plans are filters of the input's: no query loops over recordings or
analysis results in Python, and none reads recording data. ``param_filter_query`` on a store
(or on a view it made) picks recordings through per-snapshot inverted indexes instead of a
plan (stimulus parameter pair -> stimuli -> segments rows): set lookups, O(result), because
one polars collect costs more than the whole query on the small segments table.
Parameters are compared through
the ``_pairs`` column of the stimuli and ADS tables (see :mod:`mozaik_arrow.flatten`), so a
filter is exact (``1 == 1.0``, ``True != 1``) and an object that lacks a parameter never
matches it. Semantics follow mozaik (``reference/mozaik_semantics.md``); where mozaik's code
has a bug we follow its documentation: results keep store order, null recordings are filtered
by the same rules, ``rec_unique`` counts what ``get_segments()`` returns, ``equal_ads_type``
returns False instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from .pair_match import _all_equal, _any_of, _key, pairs_filter, params_match
from .partition_views import _ads_groups, _lacking, _lacking_error, _views_by_group
from .stimulus_match import (
    _ads_with_stimulus,
    _ads_with_stimulus_pairs,
    _matching_stimuli,
    _pick,
    _stimuli,
    _stored_keys,
    _unstored_matching,
)
from .view import Selected

if TYPE_CHECKING:
    from .ads_index import PairIndex
    from .snapshot import Snapshot
    from .view import DataStoreView

__all__ = [
    "Query", "ParamFilterQuery", "TagBasedQuery", "PartitionByStimulusParamterQuery",
    "PartitionByStimulusParameterQuery", "PartitionAnalysisResultsByParameterNameQuery",
    "PartitionAnalysisResultsByStimulusParameterNameQuery", "QueryError",
    "param_filter_query", "tag_based_query", "partition_by_stimulus_paramter_query",
    "partition_by_stimulus_parameter_query", "partition_analysis_results_by_parameters_query",
    "partition_analysis_results_by_stimulus_parameters_query", "equal_stimulus_type",
    "equal_ads_type", "equal_ads_except", "equal_ads", "equal_stimulus",
    "ads_with_equal_stimulus_type", "ads_with_equal_stimuli", "pairs_filter", "params_match",
]


class QueryError(AssertionError, ValueError):
    """A query's precondition failed (mozaik asserts these, hence also an AssertionError)."""


# -- queries -----------------------------------------------------------------------------------
def param_filter_query(
    dsv: DataStoreView, ads_unique: bool = False, rec_unique: bool = False, **kwargs: Any
) -> DataStoreView:
    """Recordings and ADS whose parameters match ``kwargs`` (``st_`` prefix: stimulus
    parameters; ``sheet_name``: the recordings' sheet). See the module docstring.

    Raises
    ------
    ValueError
        With ``ads_unique`` / ``rec_unique``, when the result does not hold exactly one ADS /
        one (non-null) recording.
    """
    st = {k[3:]: v for k, v in kwargs.items() if k.startswith("st_")}
    rest = {k: v for k, v in kwargs.items() if not k.startswith("st_")}
    sheets = ({s for s in _any_of(rest["sheet_name"]) if isinstance(s, str)}
              if set(rest) == {"sheet_name"} else None)
    selected = dsv._selected()
    rec: Any
    now: Snapshot | None = None  # the store's latest snapshot, read once per query
    if selected is not None:
        # Recordings picked from the snapshot's rows with set lookups: no polars plan is
        # collected (one collect costs more than the whole query; see view.Selected).
        snap = selected.snap
        # The store's latest state for stimuli (that of a view's rows may be older).
        now = snap if dsv is dsv.full_datastore else dsv.full_datastore._snapshot()
        keys = _matching_stimuli(now, st) if st else None
        picked = () if rest and sheets is None else _pick(selected, keys, sheets)
        rec = Selected(snap, picked)
        if keys is not None:
            def known() -> tuple[set[str], set[str]]:
                return keys, now.memo("stimulus_keys", _stored_keys)
    else:
        rec = dsv._recordings()
        if sheets is not None:
            rec = rec.filter(pl.col("sheet_name").is_in(sorted(sheets)))
        elif rest:
            rec = rec.head(0)  # recordings have no other parameters
        if st:
            matching = _stimuli(dsv).filter(pairs_filter(st)).select("stimulus")
            rec = rec.join(matching, on="stimulus", how="semi", maintain_order="left")

            def known() -> tuple[set[str], set[str]]:
                stimuli = _stimuli(dsv).select("stimulus", pairs_filter(st).alias("hit")).collect()
                return (set(stimuli.filter("hit").get_column("stimulus").to_list()),
                        set(stimuli.get_column("stimulus").to_list()))

    def select_ads(plan: pl.LazyFrame) -> pl.LazyFrame:
        if rest:
            plan = plan.filter(pairs_filter(rest))
        if st:
            matching, stored = known()
            strings = dsv.full_datastore._ads_stimulus_strings(now)
            if strings is None:
                plan = _ads_with_stimulus(plan, st, matching, stored)
            else:  # every ADS stimulus is known here: a plain filter, which polars optimises
                extra = _unstored_matching(strings, stored, st)
                plan = plan.filter(pl.col("stimulus").is_in(sorted(matching) + extra))
        return plan

    # A store whose ADS rows are read picks them through its pair index; one fresh from
    # opening scans its ADS metadata with pushdown of these filters; otherwise the ADS plan
    # is filtered as it is. Each is built on first use.
    indexed = dsv._ads_indexed(now)
    scan = None
    if indexed is None and rest and dsv is dsv.full_datastore:
        scan = dsv._ads_pushdown(rest)
    ads: Any
    if indexed is not None:
        frame, index = indexed
        strings = dsv.full_datastore._ads_stimulus_strings(now) if st else None

        def picked() -> pl.LazyFrame:
            rows = index.rows_matching(rest, _any_of)
            if st:
                matching, stored = known()
                extra = _unstored_matching(strings or {}, stored, st)
                rows = index.with_stimulus(rows, [*matching, *extra])
            return frame[rows].lazy()

        ads = picked
    elif scan is not None:
        ads = lambda: select_ads(scan())  # noqa: E731
    elif st:
        ads_plan = dsv._ads(now)
        ads = lambda: select_ads(ads_plan)  # noqa: E731
    else:
        ads = select_ads(dsv._ads(now))
    view = dsv._with(recordings=rec, ads=ads)
    if ads_unique:
        n = view._ads().select(pl.len()).collect().item()
        if n != 1:
            raise ValueError(f"Result was expected to have only single ADS, it contains {n}")
    if rec_unique:
        n = sum(not r["null"] for r in view._rows(None))
        if n != 1:
            raise ValueError(f"Result was expected to have only single Segment, it contains {n}")
    return view


def tag_based_query(dsv: DataStoreView, tags: Sequence[str]) -> DataStoreView:
    """ADS carrying every tag in ``tags``; all recordings are kept."""
    expr = pl.lit(True)
    for t in tags:
        expr = expr & pl.col("tags").list.contains(pl.lit(t))
    return dsv._with(ads=dsv._ads().filter(expr))


def partition_by_stimulus_paramter_query(
    dsv: DataStoreView, parameter_list: Sequence[str]
) -> list[DataStoreView]:
    """Views of recordings to the same stimulus but for ``parameter_list`` (which vary
    within a view), in order of first appearance, non-null recordings before null ones.

    Raises
    ------
    QueryError
        When ``name`` is in ``parameter_list``.
    KeyError
        When a recording's stimulus lacks a listed parameter (names both).
    """
    if "name" in parameter_list:
        raise QueryError("partition_by_stimulus_paramter_query: 'name' cannot vary")
    rec = dsv._recordings().select("segment_id", "stimulus", "null").with_row_index("_i")
    stim = _stimuli(dsv).select("stimulus", "stimulus_string", "module_path", "_pairs")
    keyed = (rec.join(stim, on="stimulus", how="left").sort("null", "_i").collect())
    _lacking(keyed, parameter_list, "stimulus", "stimulus_string")
    keyed = keyed.with_columns(_key(parameter_list, keep=False, module="module_path").alias("_group"))
    return _views_by_group(dsv, keyed, "segment_id", "recordings")


def _partition_ads(
    dsv: DataStoreView, frame: pl.DataFrame, pairs: str, parameter_list: Any, excpt: bool,
    what: str, index: PairIndex | None = None, module: str | None = None,
) -> list[DataStoreView]:
    """The partitions of ADS (by their own parameters, or their stimuli's: ``pairs``, with
    the stimuli's ``module`` column); through ``index`` (the pair index of ``frame``) when
    given."""
    if frame.height == 0:
        return []
    if not isinstance(parameter_list, list):
        raise QueryError("parameter_list has to be given, as a list")
    one_type = QueryError(f"If excpt==True you have to provide a dsv containing the same {what} type")
    if index is not None:
        if excpt:
            if len(index.groups(["name"], keep=True)[1]) != 1:
                raise one_type
            order, lengths = index.groups([*parameter_list, "name"], keep=True)
        else:
            bad = index.first_lacking(parameter_list)
            if bad is not None:
                raise _lacking_error("analysis result", frame["ads_key"][bad[0]], bad[1])
            order, lengths = index.groups(parameter_list, keep=False)
        return _ads_groups(dsv, frame, order, lengths)
    frame = frame.with_columns(pl.col(pairs).alias("_pairs"))
    if excpt:
        if frame.select(_key(["name"], keep=True).n_unique()).item() != 1:
            raise one_type
        keyed = frame.with_columns(
            _key([*parameter_list, "name"], keep=True, module=module).alias("_group"))
    else:
        _lacking(frame, parameter_list, "analysis result", "ads_key")
        keyed = frame.with_columns(_key(parameter_list, keep=False, module=module).alias("_group"))
    return _views_by_group(dsv, keyed, "ads_key", "ads")


def partition_analysis_results_by_parameters_query(
    dsv: DataStoreView, parameter_list: Sequence[str] | None = None, excpt: bool = False
) -> list[DataStoreView]:
    """Views of ADS equal but for ``parameter_list`` (``excpt=True``: equal on exactly
    those, one ADS type required); each view keeps every recording. No ADS → ``[]``."""
    indexed = dsv._ads_indexed()  # a store whose ADS rows are read: integer group keys
    if indexed is not None:
        return _partition_ads(dsv, indexed[0], "_pairs", parameter_list, excpt, "ADS", indexed[1])
    return _partition_ads(dsv, dsv._ads().collect(), "_pairs", parameter_list, excpt, "ADS")


def partition_analysis_results_by_stimulus_parameters_query(
    dsv: DataStoreView, parameter_list: Sequence[str] | None = None, excpt: bool = False
) -> list[DataStoreView]:
    """Like :func:`partition_analysis_results_by_parameters_query` on the ADS' stimuli.

    Raises
    ------
    QueryError
        When an ADS has no stimulus, ``parameter_list`` is not a list, or with ``excpt`` the
        stimuli are of several types.
    """
    frame = _ads_with_stimulus_pairs(dsv)
    if frame.height and frame["stimulus"].null_count():
        raise QueryError("partition_analysis_results_by_stimulus_parameters_query accepts only "
                         "DSV with ADS that all have defined stimulus id")
    return _partition_ads(dsv, frame, "_st_pairs", parameter_list, excpt, "stimulus",
                          module="_st_module")


partition_by_stimulus_parameter_query = partition_by_stimulus_paramter_query


# -- predicates --------------------------------------------------------------------------------
def equal_stimulus_type(dsv: DataStoreView) -> bool:
    """All stimuli of ``get_stimuli()`` (the non-null recordings) have the same ``name``."""
    rec = dsv._recordings().filter(~pl.col("null")).select("stimulus")
    names = rec.join(_stimuli(dsv).select("stimulus", "name"), on="stimulus", how="left")
    return names.select(pl.col("name").n_unique()).collect().item() <= 1


def equal_ads_type(dsv: DataStoreView) -> bool:
    """All ADS are of one type (False otherwise, as mozaik's documentation says)."""
    return dsv._ads().select(pl.col("identifier").n_unique()).collect().item() <= 1


def equal_ads(dsv: DataStoreView, params: Sequence[str] | None = None,
              except_params: Sequence[str] | None = None) -> bool:
    """All ADS equal on ``params``, or on every parameter but ``except_params``."""
    return _all_equal(dsv._ads().collect(), params, except_params)


def equal_ads_except(dsv: DataStoreView, except_params: Sequence[str]) -> bool:
    """All ADS of one kind and parametrization except ``except_params``."""
    return equal_ads(dsv, except_params=except_params)


def equal_stimulus(dsv: DataStoreView, except_params: Sequence[str]) -> bool:
    """All stimuli of the recordings equal except ``except_params`` (and ``name``)."""
    rec = dsv._recordings().filter(~pl.col("null")).select("stimulus")
    frame = rec.join(_stimuli(dsv).select("stimulus", "_pairs"), on="stimulus", how="left")
    return _all_equal(frame.collect(), None, [*except_params, "name"])


def ads_with_equal_stimulus_type(dsv: DataStoreView, allow_None: bool = False) -> bool:  # noqa: N803
    """All ADS' stimuli share ``name``; ADS without stimulus make it False unless
    ``allow_None`` (then they are ignored)."""
    frame = _ads_with_stimulus_pairs(dsv)
    if frame["stimulus"].null_count():
        if not allow_None:
            return False
        frame = frame.filter(pl.col("stimulus").is_not_null())
    return _all_equal(frame.with_columns(pl.col("_st_pairs").alias("_pairs")), ["name"], None)


def ads_with_equal_stimuli(dsv: DataStoreView, params: Sequence[str] | None = None,
                           except_params: Sequence[str] | None = None) -> bool:
    """All ADS' stimuli equal on ``params``, or on every parameter but ``except_params``."""
    frame = _ads_with_stimulus_pairs(dsv)
    if frame["stimulus"].null_count():
        return False
    return _all_equal(frame.with_columns(pl.col("_st_pairs").alias("_pairs")), params, except_params)


# -- Query classes -----------------------------------------------------------------------------
class Query:
    """A query as a parametrized object: ``Query(parameters).query(dsv)``."""

    required_parameters: dict[str, type] = {}

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.parameters = dict(parameters)
        missing = [p for p in self.required_parameters if p not in self.parameters]
        if missing:
            raise ValueError(f"{type(self).__name__} needs the parameters {missing}")

    def query(self, dsv: DataStoreView) -> Any:
        """Run the query on ``dsv``."""
        raise NotImplementedError


class ParamFilterQuery(Query):
    """See :func:`param_filter_query`; parameters ``params`` (any mapping), ``ads_unique``,
    ``rec_unique``."""

    required_parameters = {"params": dict}

    def query(self, dsv: DataStoreView) -> DataStoreView:
        p = self.parameters
        return param_filter_query(dsv, ads_unique=bool(p.get("ads_unique", False)),
                                  rec_unique=bool(p.get("rec_unique", False)), **dict(p["params"]))


class TagBasedQuery(Query):
    """See :func:`tag_based_query`; parameter ``tags``."""

    required_parameters = {"tags": list}

    def query(self, dsv: DataStoreView) -> DataStoreView:
        return tag_based_query(dsv, self.parameters["tags"])


class PartitionByStimulusParamterQuery(Query):
    """See :func:`partition_by_stimulus_paramter_query`; parameter ``parameter_list``."""

    required_parameters = {"parameter_list": list}

    def query(self, dsv: DataStoreView) -> list[DataStoreView]:
        return partition_by_stimulus_paramter_query(dsv, self.parameters["parameter_list"])


PartitionByStimulusParameterQuery = PartitionByStimulusParamterQuery


class PartitionAnalysisResultsByParameterNameQuery(Query):
    """See :func:`partition_analysis_results_by_parameters_query`."""

    required_parameters = {"parameter_list": list}

    def query(self, dsv: DataStoreView) -> list[DataStoreView]:
        return partition_analysis_results_by_parameters_query(
            dsv, self.parameters["parameter_list"], bool(self.parameters.get("excpt", False)))


class PartitionAnalysisResultsByStimulusParameterNameQuery(Query):
    """See :func:`partition_analysis_results_by_stimulus_parameters_query`."""

    required_parameters = {"parameter_list": list}

    def query(self, dsv: DataStoreView) -> list[DataStoreView]:
        return partition_analysis_results_by_stimulus_parameters_query(
            dsv, self.parameters["parameter_list"], bool(self.parameters.get("excpt", False)))
