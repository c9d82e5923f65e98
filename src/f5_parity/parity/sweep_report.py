"""SweepReport: the one typed result of `parity-check sweep`, with its one JSON codec, and the judgements
drawn from the per-checkpoint results: the first update where parity breaks (and the culprit there), the
checkpoint and weight set to ship (and why), and the gate (best | all | last).

sweep.json is `SweepReport.to_json()`; sweep.md, its PNGs and the JUnit file are rendered from it.
Everything in it is a pure function of the checkpoints and the settings, except `execution` (timings,
process count, how many work units were computed vs read from the cache), which is the only part that
differs between two runs of the same sweep (1 process or many, fresh or resumed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from f5_parity.results import jsonable

GATES = ("best", "all", "last")
SCORED_PATHS = ("trainer-heldout", "infer")  # the trainer's model and settings, and the user's infer path
# A failing EMA-health probe does not bar a checkpoint whose only culprit is the weight set: switching the
# infer side to the trainer's set (use_ema=False) is exactly the fix it recommends.
EMA_PROBE = "probe:ckpt.ema_health"


def sig(x: Any, digits: int = 6) -> Any:
    """Floats to `digits` significant digits: the report's numbers, stable across thread counts and processes."""
    if isinstance(x, bool) or not isinstance(x, float):
        return x
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def score_key(path: str, weights: str) -> str:
    return f"{path}/{weights}"


def pool_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One path's utterances pooled like scoring.metrics.pool: WER/CER over all edits, similarity mean."""
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {"n": len(ok), "errors": len(rows) - len(ok)}
    if not ok:
        return out
    for unit, key in (("words", "wer"), ("chars", "cer")):
        errors = sum(r[unit]["substitutions"] + r[unit]["deletions"] + r[unit]["insertions"] for r in ok)
        length = sum(r[unit]["reference_length"] for r in ok)
        out[key] = sig(errors / length) if length else None
    out["cer_capped"] = sig(sum(min(r["cer"], 1.0) for r in ok) / len(ok))
    out["similarity"] = sig(sum(r["similarity"] for r in ok) / len(ok))
    return out


@dataclass
class SweepReport:
    sources: list[str]
    settings: dict[str, Any]
    checkpoints: list[dict[str, Any]]  # oldest first (update, then name); see parity/sweep.py checkpoint_result
    recommendation: dict[str, Any] | None
    first_bad: dict[str, Any] | None
    breaks: list[dict[str, Any]]
    gate: dict[str, Any]
    verdict: str  # the gate's: pass | fail
    notes: list[str] = field(default_factory=list)
    execution: dict[str, Any] = field(default_factory=dict)  # timings, processes, units run/cached: varies by run

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def checkpoint(self, name: str) -> dict[str, Any]:
        return next(c for c in self.checkpoints if c["name"] == name)

    def to_json(self) -> dict[str, Any]:
        return jsonable({
            "verdict": self.verdict,
            "recommendation": self.recommendation,
            "first_bad": self.first_bad,
            "breaks": self.breaks,
            "gate": self.gate,
            "checkpoints": self.checkpoints,
            "settings": self.settings,
            "sources": self.sources,
            "notes": self.notes,
            "execution": self.execution,
        })

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SweepReport":
        return cls(sources=list(d.get("sources") or []), settings=d.get("settings") or {},
                   checkpoints=list(d.get("checkpoints") or []), recommendation=d.get("recommendation"),
                   first_bad=d.get("first_bad"), breaks=list(d.get("breaks") or []), gate=d.get("gate") or {},
                   verdict=d.get("verdict", "fail"), notes=list(d.get("notes") or []),
                   execution=d.get("execution") or {})


# --- judgements -------------------------------------------------------------------------------------------


def _order(c: dict[str, Any]) -> tuple:
    """Oldest first: by update; files without one (pruned exports) after every numbered one."""
    u = c.get("update")
    return (u is None, u if u is not None else 0, c["name"])


def _culprits(c: dict[str, Any]) -> list[str]:
    """What broke this checkpoint: the isolated factors, else the failed checks (a probe, a score)."""
    if c.get("status") == "error":
        return ["unreadable"]
    if c.get("culprits"):
        return list(c["culprits"])
    return [f["name"] for f in c.get("failed_checks") or [] if f["name"] != "parity"]


def _eligible_sets(c: dict[str, Any], infer_set: str, trainer_set: str) -> list[tuple[str, str]]:
    """(weight set, why) a checkpoint could ship with: the user's set where it passes; the trainer's set
    where the weight set is the only culprit (use_ema=False restores parity)."""
    if c.get("status") == "error":
        return []
    if c.get("verdict") == "pass":
        return [(infer_set, "parity holds with your infer settings")]
    failed = {f["name"] for f in c.get("failed_checks") or []} - {"parity", EMA_PROBE}
    if c.get("culprits") == ["weights"] and not failed and trainer_set in (c.get("weight_sets") or []):
        return [(trainer_set, f"parity holds once the infer side uses the {trainer_set} weights")]
    return []


def _infer_score(c: dict[str, Any], weights: str) -> dict[str, Any] | None:
    s = (c.get("scores") or {}).get(score_key("infer", weights))
    return s if s and s.get("cer") is not None else None


def recommend(checkpoints: list[dict[str, Any]], *, infer_set: str, trainer_set: str = "raw") -> dict[str, Any] | None:
    """The checkpoint and weight set to ship: among those where parity holds (with the user's weight set,
    or with the trainer's where that is the only culprit), the best infer-path score (pooled CER, then
    similarity, then the newer update); without scores (fast mode), the newest such checkpoint."""
    candidates = []
    for c in sorted(checkpoints, key=_order):
        for weights, why in _eligible_sets(c, infer_set, trainer_set):
            candidates.append((c, weights, why, _infer_score(c, weights)))
    if not candidates:
        return None
    scored = [x for x in candidates if x[3] is not None]
    n_ok = len({c["name"] for c, *_ in candidates})
    if scored:
        def rank(x):
            c, _, _, s = x
            newer = c.get("update") if c.get("update") is not None else math.inf  # pruned exports: newest
            return (s["cer"], -(s.get("similarity") or 0.0), -newer)

        c, weights, why, s = min(scored, key=rank)
        reason = (f"lowest infer-path CER {s['cer']:.3f} (similarity {s.get('similarity') or 0.0:.1f}) among "
                  f"{n_ok} checkpoint(s) where parity holds; {why}")
    else:
        c, weights, why, _ = candidates[-1]
        reason = f"the newest of {n_ok} checkpoint(s) where parity holds (no scores: fast mode); {why}"
    return {"checkpoint": c["name"], "update": c.get("update"), "weights": weights, "use_ema": weights == "ema",
            "reason": reason, "scores": (c.get("scores") or {}).get(score_key("infer", weights))}


def breaks(checkpoints: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The first failing checkpoint (oldest first), and every pass -> fail transition with its culprit."""
    ordered = sorted(checkpoints, key=_order)
    found = []
    first = None
    previous = None
    for c in ordered:
        failing = c.get("verdict") != "pass"
        if failing and (previous is None or previous.get("verdict") == "pass"):
            entry = {"checkpoint": c["name"], "update": c.get("update"), "culprits": _culprits(c),
                     "fixes": _fixes(c), "after": previous["name"] if previous else None}
            found.append(entry)
            first = first or entry
        previous = c
    return first, found


def _fixes(c: dict[str, Any]) -> list[str]:
    fixes = list((c.get("fixes") or {}).values())
    fixes += [f["fix"] for f in c.get("failed_checks") or [] if f.get("fix")]
    if c.get("status") == "error":
        fixes.append(c.get("error") or "")
    return list(dict.fromkeys(f for f in fixes if f))


def evaluate_sweep_gate(checkpoints: list[dict[str, Any]], recommendation: dict[str, Any] | None,
                        mode: str) -> dict[str, Any]:
    """--gate all: every checkpoint passes; last: the newest passes; best: a recommended checkpoint exists
    and it passes with the recommended weight set."""
    if mode not in GATES:
        raise ValueError(f"gate is one of {GATES}")
    ordered = sorted(checkpoints, key=_order)
    if mode == "all":
        judged = ordered
    elif mode == "last":
        judged = ordered[-1:]
    else:
        judged = [c for c in ordered if recommendation and c["name"] == recommendation["checkpoint"]]
    checks = [{"checkpoint": c["name"], "update": c.get("update"), "verdict": c.get("verdict"),
               "passed": c.get("verdict") == "pass" or (mode == "best" and recommendation is not None)}
              for c in judged]
    passed = bool(checks) and all(ch["passed"] for ch in checks)
    if mode == "best" and recommendation is None:
        checks.append({"checkpoint": None, "update": None, "verdict": "fail", "passed": False,
                       "reason": "no checkpoint where parity holds"})
    return {"mode": mode, "passed": passed, "checks": checks}
