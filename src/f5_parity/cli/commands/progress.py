"""rich progress for long runs: the engine reports (what, fraction) through a callback."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_reporter(console):
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("starting", total=1.0)

        def report(what: str, fraction: float | None = None) -> None:
            progress.update(task, description=what, completed=fraction if fraction is not None else 0.0)

        yield report
