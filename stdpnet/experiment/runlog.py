"""What a run says: ``run.log`` in its directory, and the summary lines the CLI prints.

:class:`RunLog` appends timestamped lines to ``RUN_DIR/run.log`` (kept across ``--resume``):
the start of the run, the kernel compile announcement, epochs done, checkpoints, skipped samples,
stops, Python warnings raised meanwhile, errors, and at the end the same summary lines the CLI
prints (:func:`summary_lines`). Lines meant for the user are also shown through ``echo`` (a
:meth:`stdpnet.experiment.loop.Progress.note`, silent with ``--quiet``). A log that cannot be
written (full disk) never stops a run: the first failure is shown once, later lines are dropped.
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

LOG_FILE = "run.log"


class RunLog:
    """Timestamped lines appended to ``path`` (see the module docstring); ``echo`` shows the lines
    marked for the user (no timestamp)."""

    def __init__(self, path, echo: Optional[Callable[[str], None]] = None):
        self.path = Path(path)
        self.echo = echo or (lambda line: None)
        self._broken = False

    def _write(self, lines: Iterable[str]) -> None:
        if self._broken:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.writelines(f"{stamp}  {line}\n" for line in lines)
        except OSError as e:
            self._broken = True
            self.echo(f"warning: cannot write {self.path} ({e.strerror or e}); the run goes on without its log")

    def info(self, line: str, *, echo: bool = True) -> None:
        """Log ``line``; show it too unless ``echo=False``."""
        self._write([line])
        if echo:
            self.echo(line)

    def lines(self, lines: Iterable[str]) -> None:
        """Log several lines (not shown: the caller prints them itself, e.g. the final summary)."""
        self._write(list(lines))

    def warning(self, text: str, *, echo: bool = True) -> None:
        self.info(f"warning: {text}", echo=echo)

    @contextmanager
    def capturing_warnings(self) -> Iterator["RunLog"]:
        """Python warnings raised inside the block are logged, then shown as Python would."""
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            self.warning(f"{category.__name__}: {message} ({Path(filename).name}:{lineno})", echo=False)
            previous(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield self
        finally:
            warnings.showwarning = previous


def start_line(summary: Dict[str, Any]) -> str:
    """``run DIR: NET on DATA, readout R, N training samples x E epoch(s), V validation, seed S``."""
    return (f"run {summary['run_dir']}: {summary['network']} on {summary['data']}, readout "
            f"{summary['readout'] or 'none'}, {summary['train_samples']} training samples x {summary['epochs']} "
            f"epoch(s), {summary['val_samples']} validation, seed {summary.get('seed', '?')}")


def summary_lines(s: Dict[str, Any]) -> List[str]:
    """The lines ``stdpnet train`` prints for a run's summary (also the end of its ``run.log``)."""
    out = [start_line(s)]
    for n in ([s["note"]] if s.get("note") else []) + list(s.get("notes", [])):
        out.append(f"  note: {n}")
    if "train" in s:
        t = s["train"]
        acc = s.get("running_accuracy")
        acc_text = f", running accuracy (last 1000) {acc:.3f}" if acc is not None else ""
        out.append(f"  training: {t['events_per_s']:,.0f} events/s, real-time factor {t['realtime_factor']:.1f}x"
                   f"{acc_text}, {t['wall_s']:.1f} s")
    if s.get("compile_s") is not None and s.get("compile_from_cache") is False:
        out.append(f"  kernel compile: {s['compile_s']:.1f} s (first run after install; not in the figures above)")
    for bad in s.get("skipped", []):
        out.append(f"  skipped bad sample {bad['sample']}: {bad['error']}")
    if s.get("interrupted"):
        out.append(f"  stopped ({s.get('stopped_by')}): checkpoint saved; continue with  "
                   f"stdpnet train --resume {s['run_dir']}")
        return out
    v = s.get("validation")
    if v and "accuracy" in v:
        out.append(f"  validation: accuracy {v['accuracy']:.4f} on {v['samples']} samples ({v['silent']} silent), "
                   f"{v['events_per_s']:,.0f} events/s")
    t = s.get("test")
    if t and "accuracy" in t:
        out.append(f"  test ({t['data']}): accuracy {t['accuracy']:.4f} on {t['samples']} samples "
                   f"({t['silent']} silent)")
    for key, label in (("results_csv", "results"), ("log", "log")):
        if s.get(key):
            out.append(f"  {label}: {s[key]}")
    for p in s.get("plots", []):
        out.append(f"  plot: {p}")
    return out
