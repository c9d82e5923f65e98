"""SweepReport: the one typed result of `parity-check sweep`, with its one JSON codec, and the judgements
drawn from the per-checkpoint results: the checkpoint and weight set to ship (and why, in figures), the first
save whose quality is worse than the best before it (quality_break), the updates where parity breaks (and the
culprit there) apart from the checks that fail (a probe, an unreadable file), and the gate (best | all | last).

sweep.json is `SweepReport.to_json()`; sweep.md, its PNGs and the JUnit file are rendered from it.
Everything in it is a pure function of the checkpoints and the settings, except `execution` (timings,
process count, how many work units were computed vs read from the cache), which is the only part that
differs between two runs of the same sweep (1 process or many, fresh or resumed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from f5_parity.results import jsonable
from f5_parity.scoring.stats import sig

GATES = ("best", "all", "last")
SCORED_PATHS = ("trainer-heldout", "infer")  # the trainer's model and settings, and the user's infer path
# A failing EMA-health probe does not bar a checkpoint whose only culprit is the weight set: switching the
# infer side to the trainer's set (use_ema=False) is exactly the fix it recommends.
EMA_PROBE = "probe:ckpt.ema_health"
# The run group's probes (stage parity, isolation) restate the parity run's own result: judged as parity
# (parity_verdict, culprits), never as a separate check failure.
RUN_PROBES = "probe:run."


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
    checkpoints: list[dict[str, Any]]  # oldest first (update, then name); see sweeps/results.py checkpoint_result
    recommendation: dict[str, Any] | None
    first_bad: dict[str, Any] | None  # the first failing checkpoint of any kind (parity | probe | error)
    parity_breaks: list[dict[str, Any]]  # kind parity only: the stages disagree
    gate: dict[str, Any]
    verdict: str  # the gate's: pass | fail
    notes: list[str] = field(default_factory=list)
    quality_break: dict[str, Any] | None = None  # the shipped set's (see quality_breaks)
    quality_breaks: dict[str, Any] = field(default_factory=dict)  # per weight set
    check_failures: list[dict[str, Any]] = field(default_factory=list)  # kind probe | error: never parity breaks
    no_recommendation: str | None = None  # why recommendation is null
    execution: dict[str, Any] = field(default_factory=dict)  # timings, processes, units run/cached: varies by run
    training_log: dict[str, Any] | None = None  # F5's own training loss (tensorboard), beside the flow loss

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def checkpoint(self, name: str) -> dict[str, Any]:
        return next(c for c in self.checkpoints if c["name"] == name)

    def to_json(self) -> dict[str, Any]:
        return jsonable({
            "verdict": self.verdict,
            "recommendation": self.recommendation,
            "no_recommendation": self.no_recommendation,
            "quality_break": self.quality_break,
            "quality_breaks": self.quality_breaks,
            "first_bad": self.first_bad,
            "parity_breaks": self.parity_breaks,
            "check_failures": self.check_failures,
            "gate": self.gate,
            "checkpoints": self.checkpoints,
            "settings": self.settings,
            "sources": self.sources,
            "notes": self.notes,
            "training_log": self.training_log,
            "execution": self.execution,
        })

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SweepReport":
        return cls(sources=list(d.get("sources") or []), settings=d.get("settings") or {},
                   checkpoints=list(d.get("checkpoints") or []), recommendation=d.get("recommendation"),
                   first_bad=d.get("first_bad"), parity_breaks=list(d.get("parity_breaks") or []),
                   check_failures=list(d.get("check_failures") or []), no_recommendation=d.get("no_recommendation"), gate=d.get("gate") or {},
                   verdict=d.get("verdict", "fail"), notes=list(d.get("notes") or []),
                   quality_break=d.get("quality_break"), quality_breaks=d.get("quality_breaks") or {},
                   execution=d.get("execution") or {}, training_log=d.get("training_log"))


# --- judgements -------------------------------------------------------------------------------------------


def _order(c: dict[str, Any]) -> tuple:
    """Oldest first: by update; files without one (pruned exports) after every numbered one."""
    u = c.get("update")
    return (u is None, u if u is not None else 0, c["name"])


def _culprits(c: dict[str, Any]) -> list[str]:
    """What broke this checkpoint: the isolated factors, else the failed checks (a probe); never a score."""
    if c.get("status") == "error":
        return ["unreadable"]
    if c.get("culprits"):
        return list(c["culprits"])
    return [f["name"] for f in _blocking_checks(c)]


def _blocking_checks(c: dict[str, Any]) -> list[dict[str, Any]]:
    """Failed checks that bar shipping: not the parity summary itself, not a score threshold (quality is
    judged by the quality signal), not the EMA-health probe (its fix is the weight set, judged apart)."""
    return [f for f in c.get("failed_checks") or []
            if f["name"] not in ("parity", EMA_PROBE) and not f["name"].startswith(RUN_PROBES)
            and f.get("kind") != "score"]


def failure_kind(c: dict[str, Any]) -> str | None:
    """Why a checkpoint fails, or None: parity (the stages disagree), probe (a check of the file or the
    user's load path), error (unreadable, or its verdict could not be computed). Pending is not a failure."""
    if c.get("status") == "pending":
        return None
    if c.get("status") == "error":
        return "error"
    if c.get("parity_verdict") in ("fail", "undecided"):  # undecided: the stages cannot vouch for the path
        return "parity"
    if _blocking_checks(c):
        return "probe"
    return None


LOAD = {
    "raw": "load it with use_ema=False (f5_tts.infer.utils_infer.load_model), or export the raw weights "
           "as a checkpoint of their own",
    "ema": "load it with use_ema=True (load_model's default, what f5-tts_infer-cli does)",
}


def _eligible_sets(c: dict[str, Any], infer_set: str, trainer_set: str) -> list[tuple[str, str]]:
    """(weight set, why) a checkpoint could ship with. Parity must hold with the user's settings, or the
    weight set must be its only culprit; then every set the file holds is a candidate (the weights are what
    is judged here), each with how to load it where it is not the set the user's path loads."""
    if c.get("status") != "done":
        return []
    sets = [w for w in ("raw", "ema") if w in (c.get("weight_sets") or [])]
    if c.get("parity_verdict") == "pass" and not _blocking_checks(c):
        base = "parity holds with your infer settings"
    elif c.get("culprits") == ["weights"] and not _blocking_checks(c):
        base = "parity holds apart from the weight set"
    else:
        return []
    return [(w, base if w == infer_set and base.endswith("settings") else f"{base}; {LOAD[w]}") for w in sets]


def _infer_score(c: dict[str, Any], weights: str) -> dict[str, Any] | None:
    s = (c.get("scores") or {}).get(score_key("infer", weights))
    return s if s and s.get("cer") is not None else None


def _label(c: dict[str, Any], weights: str) -> str:
    u = c.get("update")
    return f"{c['name']} ({weights}{'' if u is None else f', update {u}'})"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def recommend(checkpoints: list[dict[str, Any]], *, infer_set: str, trainer_set: str = "raw") -> dict[str, Any] | None:
    """The checkpoint and weight set to ship: the lowest flow-matching loss (sweeps/quality.py; held-out
    clips where given, else the reference clips) among the (checkpoint, set) pairs where parity holds or the
    set is the only culprit. Every pair whose paired difference to the lowest has an interval that holds 0
    is tied with it; ties go to the earliest update (then the user's own set). No quality signal, no
    recommendation: the newest checkpoint is never named for being the newest."""
    from f5_parity.sweeps.quality import DESCRIPTION, judged_split, paired_difference, samples_of, summarize

    candidates = []
    for c in sorted(checkpoints, key=_order):
        for weights, why in _eligible_sets(c, infer_set, trainer_set):
            candidates.append((c, weights, why))
    if not candidates:
        return None
    split = next((judged_split(c) for c, _, _ in candidates if judged_split(c)), None)
    scored = [(c, w, why, samples_of(c, w, split)) for c, w, why in candidates] if split else []
    scored = [x for x in scored if x[3]]
    n_ok = len({c["name"] for c, *_ in candidates})
    if not scored:
        return None
    best = min(scored, key=lambda x: summarize(x[3])["mean"])
    tied = []
    for x in scored:
        diff = paired_difference(best[3], x[3])
        if x is best or (diff["lo"] is not None and diff["lo"] <= 0 <= diff["hi"]) or diff["mean"] == 0:
            tied.append((x, diff))

    def order(item):
        (c, w, _, _), _ = item
        return (*_order(c), w != infer_set)

    (c, weights, why, samples), _ = min(tied, key=order)
    mine, top = summarize(samples), summarize(best[3])
    pool_text = (f"among {len(scored)} checkpoint x weight set pair(s) on {n_ok} checkpoint(s) where parity holds "
                 f"or the weight set is the only culprit")
    figures = f"{_fmt(mine['mean'])} (95% interval {_fmt(mine['lo'])}-{_fmt(mine['hi'])}, {mine['n']} draws x clips)"
    if c is best[0] and weights == best[1]:
        reason = f"lowest {split} flow-matching loss {figures} {pool_text}"
    else:
        d = next(d for x, d in tied if x[0] is c and x[1] == weights)
        reason = (f"{split} flow-matching loss {figures}, tied with the lowest, {_fmt(top['mean'])} at "
                  f"{_label(best[0], best[1])} (paired difference {_fmt(d['mean'])}, 95% interval {_fmt(d['lo'])} to "
                  f"{_fmt(d['hi'])}: it holds 0), {pool_text}")
    if len(tied) > 1:
        others = [_label(x[0], x[1]) for x, _ in tied if x[0] is not c or x[1] != weights]
        reason += f"; tied within the paired interval with {', '.join(others)}: the earliest update is named"
    reason += f"; {why}"
    return {"checkpoint": c["name"], "update": c.get("update"), "weights": weights, "use_ema": weights == "ema",
            "signal": "flow_loss", "computed_on": split, "signal_description": DESCRIPTION[split],
            "loss": mine, "best": {"checkpoint": best[0]["name"], "update": best[0].get("update"),
                                   "weights": best[1], "loss": top},
            "is_tied": len(tied) > 1,
            "tied": [{"checkpoint": x[0]["name"], "update": x[0].get("update"), "weights": x[1],
                      "difference": d} for x, d in tied if x[0] is not c or x[1] != weights],
            "load": None if weights == infer_set else LOAD[weights],
            "reason": reason, "scores": (c.get("scores") or {}).get(score_key("infer", weights))}


def why_no_recommendation(checkpoints: list[dict[str, Any]], *, infer_set: str) -> str:
    """Why `recommend` named nothing, in one sentence for the report."""
    from f5_parity.sweeps.quality import judged_split, samples_of

    done = [c for c in checkpoints if c.get("status") == "done"]
    if not done:
        return "no checkpoint has a verdict yet (pending, or unreadable)"
    eligible = [(c, w) for c in done for w, _ in _eligible_sets(c, infer_set, "raw")]
    if not eligible:
        return ("in every checkpoint parity breaks beyond the weight set, or a check of the file or of your load "
                "path fails (see the parity breaks and check failures)")
    if not any(judged_split(c) and samples_of(c, w, judged_split(c)) for c, w in eligible):
        errors = sorted({(c.get("quality") or {}).get("error") for c, _ in eligible} - {None})
        return ("no quality signal: the flow-matching loss could not be computed on any checkpoint where parity "
                "holds" + (f" ({errors[0]})" if errors else "") + "; the newest is not named for being the newest")
    return "no checkpoint could be judged"


def quality_breaks(checkpoints: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Per weight set: the first save after the best so far whose loss is worse than that best beyond the
    paired interval (its whole 95 % interval of the difference above 0), or None."""
    from f5_parity.sweeps.quality import judged_split, paired_difference, samples_of, summarize

    ordered = [c for c in sorted(checkpoints, key=_order) if c.get("update") is not None]
    split = next((judged_split(c) for c in ordered if judged_split(c)), None)
    out: dict[str, dict[str, Any] | None] = {}
    for weights in ("raw", "ema"):
        best = None
        found = None
        for c in ordered:
            samples = samples_of(c, weights, split) if split else None
            if not samples:
                continue
            if best is None:
                best = (c, samples)
                continue
            diff = paired_difference(best[1], samples)
            if diff["lo"] is not None and diff["lo"] > 0:
                found = {"checkpoint": c["name"], "update": c.get("update"), "weights": weights,
                         "signal": "flow_loss", "computed_on": split, "value": summarize(samples),
                         "best_before": {"checkpoint": best[0]["name"], "update": best[0].get("update"),
                                         "value": summarize(best[1])},
                         "difference": diff}
                break
            if diff["mean"] is not None and diff["mean"] < 0:
                best = (c, samples)
        if any(samples_of(c, weights, split) for c in ordered) if split else False:
            out[weights] = found
    return out


def quality_break(breaks_by_set: dict[str, dict[str, Any] | None], recommendation: dict[str, Any] | None,
                  infer_set: str) -> dict[str, Any] | None:
    """The break of the set that ships (the recommended one, else the user's)."""
    weights = recommendation["weights"] if recommendation else infer_set
    return breaks_by_set.get(weights)


def breaks(checkpoints: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]],
                                                   list[dict[str, Any]]]:
    """Every pass -> fail transition, oldest first, with its culprit and kind, split in two lists: parity breaks
    (the stages disagree: kind parity) and check failures (kind probe: a check of the file or of the user's
    load path failed while the stages agree; kind error: the file or its verdict could not be read). Pending
    checkpoints are skipped (not computed is not failed); score thresholds never count (quality is judged by
    the quality signal). Returns (the first of either, parity breaks, check failures)."""
    ordered = sorted(checkpoints, key=_order)
    parity, checks = [], []
    first = None
    previous = None
    for c in ordered:
        if c.get("status") == "pending":
            continue
        kind = failure_kind(c)
        previous_kind = failure_kind(previous) if previous is not None else None
        if kind and kind != previous_kind:
            entry = {"checkpoint": c["name"], "update": c.get("update"), "kind": kind, "culprits": _culprits(c),
                     "fixes": _fixes(c), "after": previous["name"] if previous is not None else None}
            (parity if kind == "parity" else checks).append(entry)
            first = first or entry
        previous = c
    return first, parity, checks


def _fixes(c: dict[str, Any]) -> list[str]:
    fixes = list((c.get("fixes") or {}).values())
    fixes += [f["fix"] for f in c.get("failed_checks") or [] if f.get("fix") and not f["name"].startswith(RUN_PROBES)]
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
    shipped = None
    if mode == "best" and recommendation is not None:
        load = recommendation.get("load")
        shipped = (f"ship {recommendation['checkpoint']} with the {recommendation['weights']} weights"
                   + (f" ({load})" if load else ""))
        for ch in checks:
            if ch["verdict"] != "pass":
                ch["reason"] = f"your infer path as it is fails here ({ch['verdict']}); it passes if you {shipped}"
    passed = bool(checks) and all(ch["passed"] for ch in checks)
    if mode == "best" and recommendation is None:
        checks.append({"checkpoint": None, "update": None, "verdict": "fail", "passed": False,
                       "reason": "no checkpoint to recommend"})
    gate = {"mode": mode, "passed": passed, "checks": checks, "judges": GATE_JUDGES[mode]}
    if passed and shipped and not any(c.get("verdict") == "pass" for c in checkpoints):
        # the user's own path fails at every save: the pass is conditional, and says so on the first screen
        gate["condition"] = f"your infer path as it is fails at every checkpoint: the gate passes only if you {shipped}"
    return gate


GATE_JUDGES = {
    "best": "a checkpoint to ship exists: the recommended checkpoint with the recommended weight set, loaded as "
            "stated (not your infer path as it is)",
    "all": "your infer path as it is, on every checkpoint",
    "last": "your infer path as it is, on the newest checkpoint",
}
