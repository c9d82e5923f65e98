"""The sweep's quality signal: the conditional flow-matching loss that F5's training minimises, per checkpoint
and weight set, under draws that are fixed and shared by every checkpoint.

Why this signal: F5's Trainer has no validation loss, and a model that does not yet speak clearly gives ASR
scores that are noise. The loss training minimises is defined from the first update on, costs one forward
pass per draw (no ODE solve, no vocoder), and is computed by f5-tts's own CFM.forward (via
parity/fingerprint.py flow_matching_loss_table, which seeds noise, time, span mask and CFG drops per
(seed, draw, clip), in eval mode so dropout is off).

Because every checkpoint and both weight sets see the same draws, two of them are compared through paired
differences over (draw, clip): the interval of the difference is much tighter than either interval alone.

What it is computed on, reported apart:
  fit       the run's reference clips (training clips, normally): how well the model fits what it saw;
  held-out  clips given with --held-out (e.g. other recordings of the same speaker): generalisation.
The judgement (recommendation, quality_break) uses held-out where given, else fit, and says which.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from f5_parity.cases.case import Case
from f5_parity.errors import InputError

DEFAULT_DRAWS = 6
SIGNAL = "flow_loss"
SPLITS = ("fit", "held-out")
DESCRIPTION = {
    "fit": "conditional flow-matching loss (f5-tts CFM.forward, eval mode, fixed draws) on the reference clips: fit",
    "held-out": "conditional flow-matching loss (f5-tts CFM.forward, eval mode, fixed draws) on the held-out clips: "
                "generalisation",
}


def held_out_clips(path: str | Path) -> list[Case]:
    """Clips from a metadata file in F5's own dataset format: `audio_file|text` per line (a header line
    `audio_file|text` is skipped; relative audio paths are read against the file's folder)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--held-out {p}: no such file", "give a metadata.csv with lines `audio_file|text`")
    clips: list[Case] = []
    with open(p, encoding="utf-8-sig", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="|"), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise InputError(f"--held-out {p} line {i}: no `|` between the audio file and its text",
                                 "write each line as `audio_file|text` (F5's metadata.csv format)")
            audio, text = row[0].strip(), "|".join(row[1:]).strip()
            if i == 1 and audio == "audio_file":
                continue
            audio_path = Path(audio) if Path(audio).is_absolute() else p.parent / audio
            if not audio_path.is_file():
                raise InputError(f"--held-out {p} line {i}: {audio_path} does not exist",
                                 "give paths that exist, absolute or relative to the metadata file")
            clips.append(Case(f"held-out-{len(clips) + 1}", audio_path, text, text))
    if not clips:
        raise InputError(f"--held-out {p} holds no clip", "give at least one line `audio_file|text`")
    return clips


def compute_quality(spec, fit: list[Case], held_out: list[Case], weight_sets: list[str], pool, *, draws: int,
                    seed: int) -> dict[str, Any]:
    """The loss per weight set and split, one value per (draw, clip) in that order (the pairing index)."""
    from f5_parity.parity.fingerprint import flow_matching_loss_table
    from f5_parity.scoring.stats import sig

    out: dict[str, Any] = {"signal": SIGNAL, "draws": draws, "seed": seed, "sets": {}}
    for weights in weight_sets:
        s = spec.with_value("weights", set=weights)
        per: dict[str, Any] = {}
        for split, clips in (("fit", fit), ("held-out", held_out)):
            if clips:
                table = flow_matching_loss_table(s, clips, pool, draws, seed)
                per[split] = [sig(v) for row in table for v in row]
        out["sets"][weights] = per
    return out


def summarize(samples: list[float]) -> dict[str, Any]:
    """Mean and 95 % Student-t interval over the (draw, clip) values."""
    from f5_parity.scoring.stats import sig
    from f5_parity.scoring.stats import interval

    ci = interval(samples)
    return {"mean": sig(ci["mean"]), "lo": sig(ci["lo"]), "hi": sig(ci["hi"]), "n": ci["n"]}


def paired_difference(a: list[float], b: list[float]) -> dict[str, Any]:
    """b - a over shared draws: mean and 95 % interval (lo > 0: b is worse beyond the interval)."""
    from f5_parity.scoring.stats import sig
    from f5_parity.scoring.stats import paired_test

    t = paired_test(a, b)
    ci = t.interval
    return {"mean": sig(t.mean_difference), "lo": sig(ci["lo"]), "hi": sig(ci["hi"]), "n": t.n}


def judged_split(row) -> str | None:
    """The split the judgement uses: held-out where the sweep has it, else fit (`row`: a CheckpointResult)."""
    sets = row.quality.sets if row.quality is not None else {}
    for split in ("held-out", "fit"):
        if any(split in (per.get("draws") or {}) for per in sets.values()):
            return split
    return None


def samples_of(row, weights: str, split: str) -> list[float] | None:
    """The flow-loss draws of one weight set and split of a checkpoint (`row`: a CheckpointResult)."""
    per = (row.quality.sets if row.quality is not None else {}).get(weights) or {}
    values = (per.get("draws") or {}).get(split)
    return list(values) if values and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values) else None


def quality_row(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's `quality` in sweep.json, from its quality unit: per set and split the summary and the
    draws (kept: the judgement pairs them across checkpoints)."""
    if result is None:
        return None
    if "error" in result:
        return {"signal": SIGNAL, "error": result["error"]}
    sets = {}
    for weights, per in (result.get("sets") or {}).items():
        sets[weights] = {**{split: summarize(v) for split, v in per.items()}, "draws": dict(per)}
    return {"signal": SIGNAL, "draws_per_clip": result.get("draws"), "seed": result.get("seed"), "sets": sets}
