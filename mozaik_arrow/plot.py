"""Plots of a store's recordings and analysis results (matplotlib; the ``plot`` extra).

Every function takes an ``ax=`` (a matplotlib ``Axes``) and returns the ``Axes`` it drew on;
without one it draws on a new :class:`matplotlib.figure.Figure` attached to the Agg canvas
(no pyplot, no GUI backend: works headless). Save with ``ax.figure.savefig("out.png")`` or
:func:`to_png`. Each sheet has one colour in every plot (``C0``, ``C1``, ... in the order of
``dsv.sheets()``). Data come from the store's frames (``dsv.spikes()``,
:func:`~mozaik_arrow.analytics.binned_counts`) and ADS, vectorised: no Python loop over
spikes.

- :func:`raster`: neurons × time of a view or of one segment;
- :func:`psth`: trial-averaged population rate over time, one line per value of a stimulus
  parameter;
- :func:`tuning_curve`: a PerNeuronValue (e.g. firing rate) against a stimulus parameter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import neo
import numpy as np
import polars as pl
import quantities as pq

from . import analytics, queries
from .parametrized import MozaikParametrized

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .view import DataStoreView

__all__ = ["raster", "psth", "tuning_curve", "to_png"]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # the `plot` extra
        raise ImportError("mozaik_arrow.plot needs matplotlib: pip install 'mozaik-arrow[plot]'"
                          ) from exc
    fig = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _parameter(name: str) -> str:
    """A stimulus parameter name, with or without mozaik's ``st_`` prefix."""
    return name[3:] if name.startswith("st_") else name


def _sheet_colours(sheets: Sequence[str]) -> dict[str, str]:
    return {s: f"C{i % 10}" for i, s in enumerate(sheets)}


def _to_units(units: Sequence[str], target: str) -> dict[str, float]:
    """Factor turning each unit string into ``target`` (times of mixed units on one axis)."""
    t = analytics.seconds_per_unit(target)
    return {u: analytics.seconds_per_unit(u) / t for u in units}


def _raster_points(dsv: DataStoreView, null: bool | None) -> tuple[pl.DataFrame, pl.DataFrame,
                                                                     str, float, float]:
    """(spike points x/y/sheet, neuron rows, time units, t_min, t_max) of a view."""
    spikes = dsv.spikes()
    if null is not None:
        spikes = spikes.filter(pl.col("null") == null)
    spikes = spikes.select("sheet_name", "neuron_id", "units", "t_start", "t_stop", "times")
    meta = spikes.select(pl.exclude("times")).collect()
    if meta.height == 0:
        raise ValueError("the view has no recording to plot")
    units = meta["units"].unique(maintain_order=True).to_list()
    factor = pl.col("units").replace_strict(_to_units(units, units[0]), return_dtype=pl.Float64)
    sheets = meta["sheet_name"].unique(maintain_order=True).to_list()
    rank = pl.col("sheet_name").replace_strict({s: i for i, s in enumerate(sheets)},
                                               return_dtype=pl.Int64)
    neurons = (meta.select("sheet_name", "neuron_id", rank.alias("_sheet")).unique()
               .sort("_sheet", "neuron_id").with_row_index("y"))
    points = (spikes.select("sheet_name", "neuron_id", (pl.col("times") * factor).alias("t"))
              .explode("t").drop_nulls("t")
              .join(neurons.lazy().select("sheet_name", "neuron_id", "y"),
                    on=["sheet_name", "neuron_id"])
              .collect())
    span = meta.select((pl.col("t_start") * factor).min(), (pl.col("t_stop") * factor).max())
    return points, neurons, units[0], float(span.item(0, 0)), float(span.item(0, 1))


def _segment_points(segment: neo.Segment) -> tuple[pl.DataFrame, pl.DataFrame, str, float,
                                                   float]:
    """The same for one neo Segment (a MozaikSegment or any segment with spike trains)."""
    trains = list(segment.spiketrains)
    if not trains:
        raise ValueError("the segment has no spike trains to plot")
    units = trains[0].units
    sheet = str(segment.annotations.get("sheet_name", "") or "")
    ids = [st.annotations.get("source_id", st.annotations.get("channel_id", i))
           for i, st in enumerate(trains)]
    counts = np.array([len(st) for st in trains])
    times = np.concatenate([st.rescale(units).magnitude for st in trains]) if counts.sum() \
        else np.empty(0)
    neurons = (pl.DataFrame({"sheet_name": sheet, "neuron_id": np.asarray(ids, dtype=np.int64)})
               .sort("neuron_id").with_row_index("y"))
    points = pl.DataFrame({"sheet_name": sheet, "neuron_id": np.repeat(np.asarray(ids), counts),
                           "t": times}).join(neurons, on=["sheet_name", "neuron_id"])
    t_min = min(float(st.t_start.rescale(units)) for st in trains)
    t_max = max(float(st.t_stop.rescale(units)) for st in trains)
    return points, neurons, str(units.dimensionality), t_min, t_max


def raster(
    source: DataStoreView | neo.Segment,
    ax: Axes | None = None,
    *,
    null: bool | None = False,
    marker_size: float = 16.0,
    title: str | None = None,
) -> Axes:
    """Spike raster: one row per neuron (sheets stacked, ids ascending), one colour per sheet.

    Parameters
    ----------
    source : DataStoreView or neo.Segment
        A view (every selected recording is drawn at its stored times, so recordings made one
        after another in a simulation lie side by side; filter the view to one stimulus with
        :func:`~mozaik_arrow.queries.param_filter_query` for one presentation), or one
        segment (``MozaikSegment`` or any neo Segment).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    null : bool or None
        For a view: False (default) stimulus recordings only, True null ones only, None both.
    marker_size : float
        Size of the tick marking a spike (points²).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        x: time in the recordings' units (those of the first one), limits the recordings'
        ``[t_start, t_stop]``; y: neurons, ticks at the middle of each sheet's block.

    Raises
    ------
    ValueError
        If there is nothing to plot.
    """
    if isinstance(source, neo.Segment):
        points, neurons, units, t_min, t_max = _segment_points(source)
        colours = _sheet_colours([str(source.annotations.get("sheet_name", "") or "")])
    else:
        points, neurons, units, t_min, t_max = _raster_points(source, null)
        colours = _sheet_colours(source.sheets())
    ax = _axes(ax)
    blocks = neurons.group_by("sheet_name", maintain_order=True).agg(
        pl.col("y").min().alias("lo"), pl.col("y").max().alias("hi"))
    for sheet, lo, _hi in blocks.iter_rows():
        mine = points.filter(pl.col("sheet_name") == sheet)
        colour = colours.get(sheet, "k")
        ax.scatter(mine["t"].to_numpy(), mine["y"].to_numpy(), s=marker_size, marker="|",
                   color=colour, linewidths=1.0, label=sheet or None)
        if lo > 0:
            ax.axhline(lo - 0.5, color="0.8", linewidth=0.5)
    ax.set_xlim(t_min, t_max)
    ax.set_ylim(-0.5, neurons.height - 0.5)
    ax.set_yticks([(lo + hi) / 2 for _, lo, hi in blocks.iter_rows()],
                  [s for s, _, _ in blocks.iter_rows()])
    ax.set_xlabel(f"time ({units})")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title)
    return ax


def psth(
    dsv: DataStoreView,
    parameter: str,
    bin_size: float | pq.Quantity = 10.0,
    ax: Axes | None = None,
    *,
    null: bool = False,
    title: str | None = None,
) -> Axes:
    """Trial-averaged population rate over time, one line per value of a stimulus parameter.

    For each value of ``parameter``, the spike counts of every neuron of every recording whose
    stimulus has that value (all trials, all sheets of the view) are binned from the
    recording's ``t_start`` (:func:`~mozaik_arrow.analytics.binned_counts`, Elephant's rules),
    summed and divided by the number of spike trains and the bin width: spikes/s per neuron.

    Parameters
    ----------
    dsv : DataStoreView
        The recordings (filter by sheet first to plot one population).
    parameter : str
        A stimulus parameter (``orientation`` or ``st_orientation``).
    bin_size : float or quantities.Quantity
        Bin width; a float is in the recordings' time units (ms for PyNN).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    null : bool
        Plot the null (blank) recordings of each stimulus instead (default False).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        x: time from recording start (recordings' units), y: rate (spikes/s); a legend.

    Raises
    ------
    ValueError
        If no recording is selected, the stimuli lack ``parameter``, or the recordings have
        different time units.
    """
    name = _parameter(parameter)
    stimuli = dsv.stimuli_frame().collect()
    if name not in stimuli.columns:
        raise ValueError(f"no stimulus of the view has the parameter {name!r}; parameters: "
                         f"{sorted(c for c in stimuli.columns if c != 'stimulus_string')}")
    counts = analytics.binned_counts(dsv, bin_size, long=True).filter(pl.col("null") == null)
    table = (counts.join(stimuli.lazy().select("stimulus", pl.col(name).alias("_value")),
                         on="stimulus", how="left")
             .group_by("_value", "bin")
             .agg(pl.col("count").sum().alias("spikes"), pl.len().alias("trains"),
                  pl.col("bin_size").first(), pl.col("units").unique().alias("units"))
             .sort("_value", "bin", nulls_last=True)
             .collect())
    if table.height == 0:
        raise ValueError("the view has no recording to plot" + (" (null)" if null else ""))
    units = table["units"].explode().unique().to_list()
    if len(units) != 1:
        raise ValueError(f"recordings in different time units {units}: filter the view first")
    to_s = analytics.seconds_per_unit(units[0])
    ax = _axes(ax)
    for (value,), g in table.group_by("_value", maintain_order=True):
        width = g["bin_size"].to_numpy()
        rate = g["spikes"].to_numpy() / g["trains"].to_numpy() / (width * to_s)
        edges = np.append(g["bin"].to_numpy() * width, (g["bin"][-1] + 1) * width[-1])
        ax.stairs(rate, edges, label=f"{value:g}" if isinstance(value, float) else str(value))
    ax.set_xlim(0.0, float((table["bin"].max() + 1) * table["bin_size"].max()))
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(f"time from recording start ({units[0]})")
    ax.set_ylabel("rate (spikes/s)")
    ax.legend(title=name, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def _stimulus_values(ads_list: Sequence[Any], names: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for a in ads_list:
        st = MozaikParametrized.idd(a.stimulus_id)
        out.append({n: getattr(st, n, None) for n in names})
    return out


def tuning_curve(
    dsv: DataStoreView,
    parameter: str,
    ax: Axes | None = None,
    *,
    value_name: str | None = None,
    neurons: Sequence[int] | None = None,
    title: str | None = None,
) -> Axes:
    """A PerNeuronValue against a stimulus parameter (trials averaged), one curve per sheet
    and per combination of the other stimulus parameters.

    The ADS are the view's ``PerNeuronValue`` results (of ``value_name``), partitioned with
    :func:`~mozaik_arrow.queries.partition_analysis_results_by_stimulus_parameters_query`
    (``[parameter, "trial"]``) so that within a curve only ``parameter`` and ``trial`` vary. Each point is the mean over
    neurons (± standard error of the mean) of the trial-averaged value; with ``neurons``, one
    curve per neuron instead.

    Parameters
    ----------
    dsv : DataStoreView
        View holding the analysis results.
    parameter : str
        A stimulus parameter (``orientation`` or ``st_orientation``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    value_name : str, optional
        Which PerNeuronValue (required when the view holds several value names).
    neurons : sequence of int, optional
        Neuron ids to draw one by one.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        x: the parameter, y: ``value_name (units)``; a legend naming each curve.

    Raises
    ------
    ValueError
        If the view has no such PerNeuronValue, or several value names and none chosen.
    """
    name = _parameter(parameter)
    filters: dict[str, Any] = {"identifier": "PerNeuronValue"}
    if value_name is not None:
        filters["value_name"] = value_name
    pnv = queries.param_filter_query(dsv, **filters)
    names = pnv.ads_frame().select(pl.col("value_name").unique()).collect().to_series()
    if len(names) == 0:
        raise ValueError(f"the view has no PerNeuronValue{f' {value_name!r}' if value_name else ''}")
    if len(names) > 1:
        raise ValueError(f"the view holds several PerNeuronValues {sorted(names.to_list())}: "
                         "choose one with value_name=")
    colours = _sheet_colours(dsv.sheets() or [])
    stimuli = pnv.stimuli_frame().collect()
    if name not in stimuli.columns or stimuli[name].null_count():
        raise ValueError(f"a stimulus of the PerNeuronValues lacks the parameter {name!r}")
    vary = [name] + (["trial"] if "trial" in stimuli.columns and name != "trial"
                     and not stimuli["trial"].null_count() else [])
    curves = []
    for part in queries.partition_analysis_results_by_stimulus_parameters_query(pnv, vary):
        results = part.analysis_result_copy()
        for sheet in dict.fromkeys(a.sheet_name for a in results):
            mine = [a for a in results if a.sheet_name == sheet]
            curves.append((sheet, mine))
    if not curves:
        raise ValueError("no PerNeuronValue to plot")
    stims = [MozaikParametrized.idd(c[1][0].stimulus_id) for c in curves]
    fixed = [{k: v for k, v in s.getParams().items() if k not in (name, "trial")} for s in stims]
    varying = sorted({k for f in fixed for k in f if len({repr(g.get(k)) for g in fixed}) > 1})
    ax = _axes(ax)
    units, drawn = "", 0
    for k, (sheet, results) in enumerate(curves):
        xs = np.array([v[name] for v in _stimulus_values(results, [name])], dtype=np.float64)
        order = np.unique(xs)
        ids = np.asarray(results[0].ids)
        if neurons is not None:  # those of this curve's sheet
            ids = ids[np.isin(ids, np.asarray(neurons, dtype=ids.dtype))]
            if len(ids) == 0:
                continue
            drawn += 1
        values = np.array([np.asarray(a.get_value_by_id(list(ids)), dtype=np.float64)
                           for a in results])  # ADS x neurons
        means = np.array([values[xs == x].mean(axis=0) for x in order])  # x x neurons
        units = results[0].value_units.dimensionality.string
        label = ", ".join([sheet or "", *(f"{v}={fixed[k][v]}" for v in varying)]).strip(", ")
        colour = colours.get(sheet, f"C{k % 10}") if not varying else f"C{k % 10}"
        if neurons is not None:
            for j, nid in enumerate(ids):
                ax.plot(order, means[:, j], marker="o", label=f"{label} #{nid}")
        else:
            sem = means.std(axis=1, ddof=1) / np.sqrt(means.shape[1]) if means.shape[1] > 1 \
                else np.zeros(len(order))
            ax.errorbar(order, means.mean(axis=1), yerr=sem, marker="o", capsize=3,
                        color=colour, label=label)
    if neurons is not None and not drawn:
        raise ValueError(f"none of the neurons {list(neurons)[:10]} has a {names[0]!r} value")
    ax.set_xlabel(name)
    ax.set_ylabel(f"{names[0]} ({units})" if units and units != "dimensionless" else names[0])
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def to_png(
    dsv: DataStoreView,
    kind: str,
    path: str | os.PathLike[str],
    *,
    dpi: int = 100,
    **kwargs: Any,
) -> str:
    """Draw ``kind`` (``raster``, ``psth`` or ``tuning_curve``) of a view into a PNG file.

    Parameters
    ----------
    dsv : DataStoreView
        The view.
    kind : str
        Which plot.
    path : str or os.PathLike
        The PNG to write.
    dpi : int
        Resolution.
    **kwargs
        Passed to the plot function (``parameter=``, ``bin_size=``, ``null=``, ...).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        For an unknown ``kind`` (and whatever the plot raises).
    """
    plots = {"raster": raster, "psth": psth, "tuning_curve": tuning_curve}
    if kind not in plots:
        raise ValueError(f"unknown plot {kind!r}: choose one of {sorted(plots)}")
    ax = plots[kind](dsv, ax=None, **kwargs)
    ax.figure.savefig(os.fspath(path), dpi=dpi, format="png")
    return os.fspath(path)
