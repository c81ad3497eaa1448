"""mozaik's query language, compiled to polars expressions over the metadata tables.

Every query takes a :class:`~mozaik_arrow.view.DataStoreView` and returns a new view (or a
list of views) whose plans are filters of the input's: no query loops over recordings or
analysis results in Python, and none reads recording data. Parameters are compared through
the ``_pairs`` column of the stimuli and ADS tables (see :mod:`mozaik_arrow.flatten`), so a
filter is exact (``1 == 1.0``, ``True != 1``) and an object that lacks a parameter never
matches it. Semantics follow mozaik (``reference/mozaik_semantics.md``); where mozaik's code
has a bug we follow its documentation: results keep store order, null recordings are filtered
by the same rules, ``rec_unique`` counts what ``get_segments()`` returns, ``equal_ads_type``
returns False instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from .flatten import pair, param_pairs, stimulus_params
from .parametrized import canonical_stimulus

if TYPE_CHECKING:
    from .view import DataStoreView

__all__ = [
    "Query", "ParamFilterQuery", "TagBasedQuery", "PartitionByStimulusParamterQuery",
    "PartitionByStimulusParameterQuery", "PartitionAnalysisResultsByParameterNameQuery",
    "PartitionAnalysisResultsByStimulusParameterNameQuery", "QueryError",
    "param_filter_query", "tag_based_query", "partition_by_stimulus_paramter_query",
    "partition_by_stimulus_parameter_query", "partition_analysis_results_by_parameters_query",
    "partition_analysis_results_by_stimulus_parameters_query", "equal_stimulus_type",
    "equal_ads_type", "equal_ads_except", "equal_ads", "equal_stimulus",
    "ads_with_equal_stimulus_type", "ads_with_equal_stimuli", "pairs_filter",
]

_SEP = "\x1e"  # joins the pairs of a group key; never inside a pair


class QueryError(AssertionError, ValueError):
    """A query's precondition failed (mozaik asserts these, hence also an AssertionError)."""


# -- building blocks ---------------------------------------------------------------------------
def _any_of(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def pairs_filter(kwargs: Mapping[str, Any]) -> pl.Expr:
    """Predicate over ``_pairs``: every key matches (a list value: any of its values)."""
    expr = pl.lit(True)
    for name, value in kwargs.items():
        wanted = [pair(name, v) for v in _any_of(value)]
        expr = expr & pl.col("_pairs").list.eval(pl.element().is_in(wanted)).list.any()
    return expr


def _has_all(params: Sequence[str]) -> pl.Expr:
    expr = pl.lit(True)
    for p in params:
        expr = expr & pl.col("_pairs").list.eval(pl.element().str.starts_with(f"{p}=")).list.any()
    return expr


def _key(params: Sequence[str], keep: bool) -> pl.Expr:
    """Group key: the pairs of ``params`` only (``keep``), or of every other parameter."""
    prefixes = [f"{p}=" for p in params]
    hit = pl.lit(False)
    for p in prefixes:
        hit = hit | pl.element().str.starts_with(p)
    kept = pl.element().filter(hit if keep else ~hit)
    # ``_pairs`` are sorted by name when written (flatten.param_pairs): no sort needed.
    return pl.col("_pairs").list.eval(kept).list.join(_SEP)


def _lacking(frame: pl.DataFrame, params: Sequence[str], what: str, label: str) -> None:
    """mozaik's colapse: an object lacking a listed parameter raises KeyError naming both."""
    bad = frame.filter(~_has_all(params))
    if bad.height:
        names = bad.row(0, named=True)
        missing = [p for p in params if not any(x.startswith(f"{p}=") for x in names["_pairs"])]
        raise KeyError(f"{what} {names[label]!r} has no parameter {missing[0]!r}")


def _stimuli(dsv: DataStoreView) -> pl.LazyFrame:
    return dsv.full_datastore._stimuli_metadata()


def _ads_with_stimulus_pairs(dsv: DataStoreView) -> pl.DataFrame:
    """The view's ADS rows with the ``_pairs`` of their stimulus (``_st_pairs``)."""
    ads = dsv._ads().collect()
    stim = _stimuli(dsv).select("stimulus", pl.col("_pairs").alias("_st_pairs")).collect()
    out = ads.join(stim, on="stimulus", how="left", maintain_order="left")
    unknown = out.filter(pl.col("stimulus").is_not_null() & pl.col("_st_pairs").is_null())
    if unknown.height:  # stimuli of analysis results that the store holds no recording of
        strings = unknown["stimulus_id"].unique(maintain_order=True).to_list()
        extra = pl.DataFrame({
            "stimulus": [canonical_stimulus(s)[1] for s in strings],
            "_st_extra": [param_pairs(stimulus_params(s)) for s in strings],
        })
        out = out.join(extra, on="stimulus", how="left", maintain_order="left").with_columns(
            pl.coalesce("_st_pairs", "_st_extra").alias("_st_pairs")).drop("_st_extra")
    return out


def _views_by_group(
    dsv: DataStoreView, keyed: pl.DataFrame, id_column: str, part: str
) -> list[DataStoreView]:
    """One view per value of ``keyed["_group"]``, in order of first appearance: each a
    semi-join of the input's plan with that group's ids (store order kept)."""
    recordings, ads = dsv._recordings(), dsv._ads()
    ids = (keyed.select("_group", id_column).with_row_index("_r")
           .with_columns(pl.col("_r").min().over("_group").alias("_first"))
           .sort("_first", "_r").select("_first", id_column))
    lengths = ids["_first"].rle().struct.field("len").to_list()
    ids = ids.select(id_column)
    # One sorted id frame; each view's plan slices it on first use (a partition can make
    # thousands of views, most never looked at: no frame per group is built up front).
    out = []
    start = 0
    for n in lengths:
        if part == "recordings":
            out.append(dsv._with(recordings=_semi(recordings, ids, start, n, id_column), ads=ads))
        else:
            out.append(dsv._with(recordings=recordings, ads=_semi(ads, ids, start, n, id_column)))
        start += n
    return out


def _semi(plan: pl.LazyFrame, ids: pl.DataFrame, start: int, n: int,
          column: str) -> Callable[[], pl.LazyFrame]:
    return lambda: plan.join(ids.slice(start, n).lazy(), on=column, how="semi", maintain_order="left")


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
    rec = dsv._recordings()
    if set(rest) == {"sheet_name"}:
        sheets = [s for s in _any_of(rest["sheet_name"]) if isinstance(s, str)]
        rec = rec.filter(pl.col("sheet_name").is_in(sheets))
    elif rest:
        rec = rec.head(0)  # recordings have no other parameters
    keys = _stimuli(dsv).filter(pairs_filter(st)).select("stimulus") if st else None
    if keys is not None:
        rec = rec.join(keys, on="stimulus", how="semi", maintain_order="left")

    def select_ads(plan: pl.LazyFrame) -> pl.LazyFrame:
        if rest:
            plan = plan.filter(pairs_filter(rest))
        if keys is not None:
            plan = plan.join(keys, on="stimulus", how="semi", maintain_order="left")
        return plan

    # A store fresh from opening scans its ADS metadata with pushdown of these filters
    # (built on first use); otherwise the ADS plan is filtered as it is.
    scan = dsv._ads_pushdown(rest) if rest and dsv is dsv.full_datastore else None
    ads: Any = select_ads(dsv._ads()) if scan is None else (lambda: select_ads(scan()))
    view = dsv._with(recordings=rec, ads=ads)
    if ads_unique:
        n = view._ads().select(pl.len()).collect().item()
        if n != 1:
            raise ValueError(f"Result was expected to have only single ADS, it contains {n}")
    if rec_unique:
        n = rec.filter(~pl.col("null")).select(pl.len()).collect().item()
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
    stim = _stimuli(dsv).select("stimulus", "stimulus_string", "_pairs")
    keyed = (rec.join(stim, on="stimulus", how="left").sort("null", "_i").collect())
    _lacking(keyed, parameter_list, "stimulus", "stimulus_string")
    keyed = keyed.with_columns(_key(parameter_list, keep=False).alias("_group"))
    return _views_by_group(dsv, keyed, "segment_id", "recordings")


def _partition_ads(
    dsv: DataStoreView, frame: pl.DataFrame, pairs: str, parameter_list: Any, excpt: bool,
    what: str,
) -> list[DataStoreView]:
    if frame.height == 0:
        return []
    if not isinstance(parameter_list, list):
        raise QueryError("parameter_list has to be given, as a list")
    frame = frame.with_columns(pl.col(pairs).alias("_pairs"))
    if excpt:
        if frame.select(_key(["name"], keep=True).n_unique()).item() != 1:
            raise QueryError(f"If excpt==True you have to provide a dsv containing the same {what} type")
        keyed = frame.with_columns(_key([*parameter_list, "name"], keep=True).alias("_group"))
    else:
        _lacking(frame, parameter_list, "analysis result", "ads_key")
        keyed = frame.with_columns(_key(parameter_list, keep=False).alias("_group"))
    return _views_by_group(dsv, keyed, "ads_key", "ads")


def partition_analysis_results_by_parameters_query(
    dsv: DataStoreView, parameter_list: Sequence[str] | None = None, excpt: bool = False
) -> list[DataStoreView]:
    """Views of ADS equal but for ``parameter_list`` (``excpt=True``: equal on exactly
    those, one ADS type required); each view keeps every recording. No ADS → ``[]``."""
    frame = dsv._ads().collect()
    return _partition_ads(dsv, frame, "_pairs", parameter_list, excpt, "ADS")


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
    return _partition_ads(dsv, frame, "_st_pairs", parameter_list, excpt, "stimulus")


partition_by_stimulus_parameter_query = partition_by_stimulus_paramter_query


# -- predicates --------------------------------------------------------------------------------
def _all_equal(frame: pl.DataFrame, params: Sequence[str] | None, except_params: Sequence[str] | None) -> bool:
    if frame.height < 2:
        return True
    if params is not None:
        if not frame.select(_has_all(params).all()).item():
            return False
        key = _key(params, keep=True)
    else:
        key = _key(list(except_params or ()), keep=False)
    return frame.select(key.n_unique()).item() == 1


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
