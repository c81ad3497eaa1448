"""Run-level parameters: the model's, each sheet's, and the list of experiments.

mozaik keeps these beside the recordings (``set_model_parameters`` and friends, as strings of
``ParameterSet`` literals). Here they are one small table (``run/<uuid>.parquet``, schema
:data:`mozaik_arrow.schema.RUN`) that each ``set_*`` call replaces whole: one row for the
model, one per sheet, one per experiment, each with its parameters as a literal string —
parsed with the literal parser, never ``eval`` — and the model row with every parameter as a
typed column named by its dotted path, so that the runs of a parameter search can be compared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import schema
from .errors import ValidationError
from .flatten import append_param_columns
from .parametrized import parse_stimulus_string
from .parametrized_format import _clean_value, _render

__all__ = ["RunParameters", "run_table", "read_run", "flat_parameters"]


@dataclass
class RunParameters:
    """The run-level parameters of a store (texts as they were given or rendered)."""

    model: str | None = None
    sheets: dict[str, str] = field(default_factory=dict)
    experiments: list[str | tuple[str, str]] = field(default_factory=list)


def _parse(text: str, what: str) -> dict[str, Any]:
    try:
        return parse_stimulus_string(text)
    except ValidationError as e:
        raise ValidationError(f"{what}: {e}".replace("stimulus string", "parameter string")) from None


def parameter_text(value: Any, what: str) -> str:
    """``value`` (a mapping, a ParameterSet, or its literal string) as a literal string that
    the literal parser reads back; ValidationError naming ``what`` otherwise."""
    if isinstance(value, str):
        _parse(value, what)  # refuse what could not be read back, keep the text as given
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a mapping or its literal string, "
                              f"not {type(value).__name__}")
    text = _render(_clean_value(dict(value), what, pset=False))
    _parse(text, what)
    return text


def _walk(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in params.items():
        if isinstance(v, Mapping):
            yield from _walk(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def flat_parameters(text: str) -> dict[str, Any]:
    """The parameters of a literal string, nested keys joined with ``.``."""
    return dict(_walk(_parse(text, "parameters")))


def run_table(run: RunParameters) -> pa.Table:
    """The ``run`` table of ``run`` (model row first, then sheets, then experiments)."""
    rows: list[tuple[str, str | None, int, str]] = []
    if run.model is not None:
        rows.append(("model", None, 0, run.model))
    rows += [("sheet", name, 0, text) for name, text in run.sheets.items()]
    for i, entry in enumerate(run.experiments):
        name, text = entry if isinstance(entry, tuple) else (None, entry)
        rows.append(("experiment", name, i, text))
    fixed = pa.Table.from_pydict(
        {c: [r[i] for r in rows] for i, c in enumerate(("_kind", "_name", "_position", "_text"))},
        schema=schema.strip_field_docs(schema.RUN),
    )
    model = [flat_parameters(r[3]) if r[0] == "model" else {} for r in rows]
    return append_param_columns(fixed, model)


def read_run(table: pa.Table) -> RunParameters:
    """The run parameters held by a ``run`` table."""
    out = RunParameters()
    cols = table.select(["_kind", "_name", "_text"]).to_pydict()
    for kind, name, text in zip(cols["_kind"], cols["_name"], cols["_text"], strict=True):
        if kind == "model":
            out.model = text
        elif kind == "sheet":
            out.sheets[name] = text
        else:
            out.experiments.append(text if name is None else (name, text))
    return out


def sheet_texts(parameters: Any) -> dict[str, str]:
    """``set_sheet_parameters``' argument — sheet name → parameters, or the literal string of
    such a dict — as sheet name → literal string."""
    if isinstance(parameters, str):
        parameters = _parse(parameters, "sheet parameters")
    if not isinstance(parameters, Mapping):
        raise ValidationError("sheet parameters must map sheet names to parameters")
    out = {}
    for sheet, value in parameters.items():
        if not isinstance(sheet, str) or not sheet:
            raise ValidationError(f"sheet parameters: sheet name {sheet!r} is not a string")
        out[sheet] = parameter_text(value, f"parameters of sheet {sheet!r}")
    return out


def experiment_entries(experiments: Any) -> list[str | tuple[str, str]]:
    """``set_experiment_parametrization_list``' argument checked: each entry a parameter
    mapping or string, or a pair ``(experiment class name, parameters)`` as mozaik writes."""
    if isinstance(experiments, (str, Mapping)) or not isinstance(experiments, Sequence):
        raise ValidationError("the experiment parametrization list must be a list")
    out: list[str | tuple[str, str]] = []
    for i, entry in enumerate(experiments):
        what = f"experiment {i}"
        if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
            out.append((entry[0], parameter_text(entry[1], what)))
        else:
            out.append(parameter_text(entry, what))
    return out
