"""rich progress for long runs: the engine reports (what, fraction) through a callback."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_reporter(console):
    """The display starts at the first report, so a process that reports nothing (a sweep's other
    processes, a request refused early) draws nothing."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    shown: dict = {}

    def report(what: str, fraction: float | None = None) -> None:
        if not shown:
            shown["progress"] = progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                                    TimeElapsedColumn(), console=console, transient=True)
            progress.start()
            shown["task"] = progress.add_task("starting", total=1.0)
        shown["progress"].update(shown["task"], description=what,
                                 completed=fraction if fraction is not None else 0.0)

    try:
        yield report
    finally:
        if shown:
            shown["progress"].stop()
