"""Normalize a run.json so two runs of the same inputs compare equal: wall-clock values dropped, the
machine's folders (output folder, repository, model cache) replaced by placeholders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

WALL_CLOCK = {"seconds", "duration_s", "created", "command"}
CACHE_STATE = {"action"}  # the ASR cache: 'assembled' on a cold cache, 'reused' on a warm one
REPO = str(Path(__file__).resolve().parents[1])


def normalize(value: Any, places: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: normalize(v, places) for k, v in value.items() if k not in WALL_CLOCK | CACHE_STATE}
    if isinstance(value, list):
        return [normalize(v, places) for v in value]
    if isinstance(value, str):
        for real, token in sorted(places.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(real, token)
        return value
    return value


def differences(expected: Any, actual: Any, where: str = "", rel: float = 1e-4, abs_: float = 1e-6) -> list[str]:
    """Where two normalized JSON values differ; floats within rel/abs (other CPUs round differently)."""
    if isinstance(expected, bool) or isinstance(actual, bool) or not (
            isinstance(expected, (int, float)) and isinstance(actual, (int, float))):
        if type(expected) is not type(actual):
            return [f"{where}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict):
        out = [f"{where}.{k}: only in {'expected' if k in expected else 'actual'}"
               for k in sorted(set(expected) ^ set(actual))]
        # A stage's own summaries (a, b) of a generated tensor are compared at that stage's tolerance: the
        # 32-step ODE and the vocoder carry a float's summation order (1 vs 2 BLAS threads moves the wav's
        # max by ~1e-3 relative), and the tool itself counts such tensors equal within rel_tol.
        stage_rel = max(rel, expected.get("rel_tol") or 0.0) if "stage" in expected else rel
        for k in sorted(set(expected) & set(actual)):
            tol = stage_rel if k in ("a", "b") else rel
            out += differences(expected[k], actual[k], f"{where}.{k}", tol, abs_)
        return out
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items != {len(actual)}"]
        return [d for i, (a, b) in enumerate(zip(expected, actual)) for d in differences(a, b, f"{where}[{i}]", rel, abs_)]
    if isinstance(expected, float) or isinstance(actual, float):
        if not math.isclose(expected, actual, rel_tol=rel, abs_tol=abs_):
            return [f"{where}: {expected!r} != {actual!r}"]
        return []
    return [] if expected == actual else [f"{where}: {expected!r} != {actual!r}"]
