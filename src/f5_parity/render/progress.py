"""The one progress display of a command (rich): the engine reports (what, fraction) through a callback.

On an interactive terminal it is a transient rich Progress line. Anywhere else (a CI log, a pipe, a file) it
shows nothing: a live bar cannot redraw there, and rich's Progress.stop() prints an empty line on a
non-interactive console, which made the first line of `parity-check run ... > log` blank instead of the
f5-tts line the README promises.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

Report = Callable[..., None]  # report(what: str, fraction: float | None = None)


@contextlib.contextmanager
def progress_display(console) -> Iterator[Report]:
    """The display starts at the first report, so a process that reports nothing (a sweep's other
    processes, a request refused early) draws nothing."""
    if not console.is_interactive:
        yield lambda what, fraction=None: None
        return
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
