"""Plots of real PyNN/NEST recordings, checked on the rendered pixels."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest

import mozaik_arrow as ma
from mozaik_arrow import queries
from mozaik_arrow.parametrized import MozaikParametrized

pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mozaik_arrow import plot  # noqa: E402


def _render(ax) -> np.ndarray:
    """The figure as an RGB float array (rows from the top), as written to a PNG."""
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=ax.figure.dpi)
    buf.seek(0)
    return matplotlib.image.imread(buf, format="png")[..., :3]


def _inside(ax, img: np.ndarray, inset: int = 3) -> np.ndarray:
    """The pixels strictly inside the axes frame."""
    box = ax.get_window_extent()
    h = img.shape[0]
    top, bottom = int(h - box.y1) + inset, int(h - box.y0) - inset
    return img[top:bottom, int(box.x0) + inset:int(box.x1) - inset]


def _near(pixels: np.ndarray, colour: str, tol: float = 0.2) -> np.ndarray:
    return np.linalg.norm(pixels - np.array(to_rgb(colour)), axis=-1) < tol


def _pixel(ax, img: np.ndarray, x: float, y: float) -> tuple[int, int]:
    px, py = ax.transData.transform((x, y))
    return int(round(img.shape[0] - py)), int(round(px))


@pytest.fixture(scope="module")
def store(filled_store):
    return ma.open(filled_store, "r")


def test_raster_of_one_segment_draws_each_spike_where_it_belongs(store):
    seg = store.get_segments()[0]
    trains = list(seg.get_spiketrains())
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    given = fig.add_subplot()
    ax = plot.raster(seg, ax=given)
    assert ax is given
    img = _render(ax)
    assert ax.get_xlim() == (float(trains[0].t_start), float(trains[0].t_stop))
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "neuron"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["V1_Exc_L4"]
    inside = _inside(ax, img)
    assert (inside < 0.95).any(axis=-1).sum() > 100  # not blank
    assert _near(inside, "C0").sum() > 50  # the sheet's colour
    assert not _near(inside, "C1").any()  # one sheet only
    order = np.argsort([st.annotations["source_id"] for st in trains], kind="stable")
    hits = 0
    for row, i in enumerate(order):
        for t in trains[i].magnitude[:3]:
            r, c = _pixel(ax, img, t, row)
            hits += _near(img[r - 2:r + 3, c - 2:c + 3], "C0", 0.35).any()
    assert hits == sum(min(len(st), 3) for st in trains)


def test_raster_of_a_view_stacks_the_sheets_in_their_colours(store):
    dsv = queries.param_filter_query(store, st_orientation=0.0)
    ax = plot.raster(dsv, null=None)
    img = _render(ax)
    frame = dsv.segments_frame().collect()
    assert ax.get_xlim() == (frame["t_start"].min(), frame["t_stop"].max())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["V1_Exc_L4", "V1_Inh_L4"]
    assert ax.get_ylim() == (-0.5, 80 - 0.5)
    inside = _inside(ax, img)
    exc, inh = _near(inside, "C0"), _near(inside, "C1")
    assert exc.sum() > 50 and inh.sum() > 50
    # the inhibitory sheet (20 of 80 rows) is the top quarter
    rows_exc, rows_inh = np.nonzero(exc)[0], np.nonzero(inh)[0]
    assert rows_inh.max() < rows_exc.min() + 5
    assert rows_inh.max() < inside.shape[0] * 0.3
    # null recordings only: the blank before the stimulus
    ax = plot.raster(dsv, null=True)
    null = frame.filter(pl.col("null"))
    assert ax.get_xlim() == (null["t_start"].min(), null["t_stop"].max())


def test_psth_draws_the_trial_averaged_rate_of_each_orientation(store):
    ax = plot.psth(store, "st_orientation", bin_size=20.0)
    img = _render(ax)
    assert ax.get_xlim() == (0.0, 200.0)
    assert ax.get_ylim()[0] == 0.0
    assert ax.get_xlabel() == "time from recording start (ms)"
    assert ax.get_ylabel() == "rate (spikes/s)"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "orientation"
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1.5708"]
    inside = _inside(ax, img)
    assert _near(inside, "C0").sum() > 100 and _near(inside, "C1").sum() > 100
    # the drawn heights: all spikes of every neuron (both sheets) per 20 ms, per neuron, in Hz
    by_orientation: dict[float, list] = {}
    for seg in store.get_segments():
        o = MozaikParametrized.idd(seg.annotations["stimulus"]).orientation
        by_orientation.setdefault(o, []).extend(seg.get_spiketrains())
    for patch, o in zip(ax.patches, sorted(by_orientation), strict=True):
        values, edges = patch.get_data()[:2]
        assert np.array_equal(edges, np.arange(0.0, 201.0, 20.0))
        trains = by_orientation[o]
        rel = np.concatenate([st.magnitude - float(st.t_start) for st in trains])
        want = np.histogram(rel[rel < 200.0], bins=edges)[0] / len(trains) / 0.020
        assert np.allclose(values, want, rtol=1e-12)
    with pytest.raises(ValueError, match="no stimulus of the view has the parameter"):
        plot.psth(store, "st_no_such_parameter")


def test_tuning_curve_plots_the_mean_rate_per_orientation(store):
    ax = plot.tuning_curve(store, "orientation", value_name="Firing rate")
    img = _render(ax)
    assert ax.get_xlabel() == "orientation"
    assert ax.get_ylabel() == "Firing rate (Hz)"
    lo, hi = ax.get_xlim()
    assert lo < 0.0 and hi > np.pi / 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["V1_Exc_L4", "V1_Inh_L4"]
    inside = _inside(ax, img)
    assert _near(inside, "C0").sum() > 100 and _near(inside, "C1").sum() > 100
    # each point is the mean over neurons of the stored PerNeuronValue
    for bars, sheet in zip(ax.containers, ("V1_Exc_L4", "V1_Inh_L4"), strict=True):
        x, y = bars.lines[0].get_data()
        assert np.allclose(y, [np.mean(_rates(store, sheet, o)) for o in x], rtol=1e-12)
    one = plot.tuning_curve(store, "orientation", neurons=[3, 4])
    assert len(one.get_lines()) >= 2
    with pytest.raises(ValueError, match="no PerNeuronValue"):
        plot.tuning_curve(store, "orientation", value_name="no such value")


def _rates(store, sheet: str, orientation: float) -> np.ndarray:
    seg = queries.param_filter_query(store, sheet_name=sheet,
                                     st_orientation=orientation).get_segments()[0]
    return seg.mean_rates()


def test_to_png_writes_a_picture(store, tmp_path):
    out = tmp_path / "raster.png"
    assert plot.to_png(store, "raster", out, dpi=50) == str(out)
    img = matplotlib.image.imread(str(out))
    assert img.shape[:2] == (250, 400)
    assert (img[..., :3] < 0.95).any(axis=-1).sum() > 500
    with pytest.raises(ValueError, match="unknown plot"):
        plot.to_png(store, "pie", out)
