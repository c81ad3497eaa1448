"""What an import did: :class:`ImportReport`, its items, and progress events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ImportItem", "ImportProgress", "ImportReport", "ProgressCallback"]


@dataclass(frozen=True)
class ImportItem:
    """One thing an import considered.

    Attributes
    ----------
    kind : str
        ``recording``, ``null_recording``, ``analysis``, ``sensory``, ``neuron_ids``,
        ``neuron_positions``, ``neuron_annotations`` or ``metadata`` (run-level annotations).
    name : str
        What it is, in the source's words (``Segment3.pickle``, an ADS string, a stimulus).
    reason : str
        Why it was skipped or failed; for imported items, extra detail (may be empty).
    """

    kind: str
    name: str
    reason: str = ""


@dataclass(frozen=True)
class ImportProgress:
    """A progress event: ``done`` of ``total`` items of ``phase`` handled, the last ``item``.

    Phases, in order: ``check`` (pickles checked without executing them), ``neurons``,
    ``recordings``, ``sensory``, ``analysis``. Each phase starts with ``done == 0``.

    Examples
    --------
    A rich progress bar (what the CLI does)::

        with rich.progress.Progress() as bar:
            tasks = {}
            def show(ev):
                if ev.phase not in tasks:
                    tasks[ev.phase] = bar.add_task(ev.phase, total=ev.total)
                bar.update(tasks[ev.phase], completed=ev.done, total=ev.total)
            import_mozaik(src, dest, progress=show)
    """

    phase: str
    done: int
    total: int
    item: str = ""


ProgressCallback = Callable[[ImportProgress], object]


@dataclass
class ImportReport:
    """What :func:`~mozaik_arrow.importers.import_mozaik` imported, skipped and could not import.

    Attributes
    ----------
    src, dest : str
        The mozaik directory and the store.
    imported : list of ImportItem
        Written into the store by this run.
    skipped : list of ImportItem
        Not written because the store already holds them (a resumed import) or because there
        is nothing to write; ``reason`` says which.
    failed : list of ImportItem
        Could not be imported (malformed data our validation refuses, a missing file);
        ``reason`` names the problem. The rest of the import went on.
    notes : list of str
        Corrections made on the way (e.g. a mozaik identifier bug), and what the source holds
        that the store does not keep.
    """

    src: str
    dest: str
    imported: list[ImportItem] = field(default_factory=list)
    skipped: list[ImportItem] = field(default_factory=list)
    failed: list[ImportItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"imported"|"skipped"|"failed": {kind: count}}``."""
        return {name: dict(Counter(i.kind for i in getattr(self, name)))
                for name in ("imported", "skipped", "failed")}

    def summary(self) -> str:
        """A few human-readable lines: counts by kind, then every failure."""
        lines = [f"import {self.src} -> {self.dest}"]
        for name, by_kind in self.counts().items():
            text = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items())) or "nothing"
            lines.append(f"  {name}: {text}")
        lines += [f"  FAILED {i.kind} {i.name}: {i.reason}" for i in self.failed]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
