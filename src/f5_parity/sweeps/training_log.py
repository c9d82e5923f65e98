"""F5's own training loss, read from the tensorboard events its Trainer writes (logger="tensorboard": the scalar
"loss" per update, under runs/<wandb_run_name>/ of the folder training ran in), to draw beside the sweep's
flow-matching loss. It is the loss of each training batch (one draw of noise, time and mask on whatever clips
the batch held), so it is noisy and unpaired: the sweep's fixed-draw loss is what judges; this one shows
whether training itself went wrong (a spike, a divergence) where the checkpoints were saved.

tensorboard reads the events (its EventAccumulator); a user who logs with tensorboard has it installed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError

TAG = "loss"
MAX_POINTS = 2000  # the curve kept in sweep.json: every update up to this, evenly thinned beyond


def event_files(path: str | Path) -> list[Path]:
    """The tensorboard events files a log path stands for: the file itself, or every one under the folder."""
    p = Path(path)
    return [p] if p.is_file() else sorted(p.rglob("events.out.tfevents.*"))


def find_training_logs(sources: list[str | Path]) -> list[Path]:
    """The tensorboard folders F5's layout puts beside a run's checkpoints: `runs/` in the checkpoint folder,
    its parent or its grandparent (F5 trains from the repository root: ckpts/<exp>/ and runs/<name>/ side by
    side). Each run folder holding events files is one candidate."""
    found: list[Path] = []
    for source in sources:
        folder = Path(source)
        folder = folder if folder.is_dir() else folder.parent
        for base in (folder, folder.parent, folder.parent.parent):
            runs = base / "runs"
            if not runs.is_dir():
                continue
            for run in sorted(p for p in runs.iterdir() if p.is_dir()):
                if event_files(run) and run.resolve() not in [f.resolve() for f in found]:
                    found.append(run)
            if found:
                break
    return found


def check_training_log(path: str | Path) -> None:
    p = Path(path)
    if not p.exists():
        raise InputError(f"--train-log {path}: no such file or folder",
                         "give the tensorboard folder F5's Trainer wrote (runs/<name>/) or one events file")
    if p.is_dir() and not event_files(p):
        raise InputError(f"--train-log {path}: no tensorboard events file (events.out.tfevents.*) in it",
                         "give the folder F5's Trainer wrote with logger='tensorboard' (runs/<name>/)")


def read_training_loss(path: str | Path) -> dict[str, Any]:
    """{"source", "tool", "tag", "updates", "series": [[update, loss], ...]} from the events under `path`
    (a run folder or one events file); a later write of the same update (a resumed run) replaces the earlier.
    Without tensorboard installed: {"source", "error"} saying so."""
    p = Path(path)
    try:
        import tensorboard
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {"source": str(p), "error": "tensorboard is not installed here: pip install tensorboard to draw "
                                           "the training loss"}
    files = event_files(p)
    by_update: dict[int, float] = {}
    for f in files:  # oldest file first (their names carry the start time): a resumed run's later values win
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        if TAG not in acc.Tags().get("scalars", []):
            continue
        for event in acc.Scalars(TAG):
            if math.isfinite(event.value):
                by_update[int(event.step)] = float(event.value)
    if not by_update:
        return {"source": str(p), "error": f"no '{TAG}' scalar in the tensorboard events there"}
    series = sorted(by_update.items())
    if len(series) > MAX_POINTS:
        stride = math.ceil(len(series) / MAX_POINTS)
        series = series[::stride] + ([series[-1]] if (len(series) - 1) % stride else [])
    return {"source": str(p), "tool": f"tensorboard {tensorboard.__version__}", "tag": TAG,
            "updates": len(by_update), "series": [[u, v] for u, v in series]}


def at_checkpoints(log: dict[str, Any], updates: list[int]) -> dict[int, dict[str, Any]]:
    """Per checkpoint update: the mean training loss over the updates since the previous checkpoint (the
    batches that moved the weights to it) and how many there were."""
    series = log.get("series") or []
    out: dict[int, dict[str, Any]] = {}
    previous = 0
    for u in sorted(set(updates)):
        window = [v for s, v in series if previous < s <= u]
        if window:
            out[u] = {"mean": sum(window) / len(window), "updates": len(window), "from": previous + 1, "to": u}
        previous = u
    return out
