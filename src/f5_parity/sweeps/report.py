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


# --- the typed parts of a sweep's result --------------------------------------------------------------------
# Each part's to_dict gives sweep.json's object for it, key for key and in the same order; from_dict reads it back.
# The statistics inside (a loss's mean and interval, a path's pooled scores over seeds) stay plain records: they
# are the evidence the judgement quotes, read by key.


@dataclass
class FailedCheck:
    """A failed check of one checkpoint: a probe of the file or the load path, the parity summary, or (kind
    "score") a score threshold of full mode."""

    name: str
    summary: str
    fix: str | None = None
    kind: str | None = None  # "score": a quality threshold, never a parity culprit

    def to_dict(self) -> dict[str, Any]:
        if self.kind is None:
            return {"name": self.name, "summary": self.summary, "fix": self.fix}
        return {"name": self.name, "kind": self.kind, "summary": self.summary, "fix": self.fix}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FailedCheck":
        return cls(d["name"], d.get("summary") or "", d.get("fix"), d.get("kind"))


@dataclass
class EmaHealth:
    """The EMA-health probe's figures: how far the EMA set is from the raw one."""

    step: Any = None
    share: float | None = None
    rel_l2: float | None = None
    summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "share": self.share, "rel_l2": self.rel_l2, "summary": self.summary}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EmaHealth":
        return cls(d.get("step"), d.get("share"), d.get("rel_l2"), d.get("summary"))


@dataclass
class QualitySignal:
    """A checkpoint's flow-matching loss (sweeps/quality.py): per weight set and split ("fit", "held-out") its
    summary (mean, 95 % interval) and the draws the judgement pairs across checkpoints."""

    signal: str
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    draws_per_clip: int | None = None
    seed: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"signal": self.signal, "error": self.error}
        return {"signal": self.signal, "draws_per_clip": self.draws_per_clip, "seed": self.seed, "sets": self.sets}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "QualitySignal | None":
        if d is None:
            return None
        return cls(d.get("signal") or "", dict(d.get("sets") or {}), d.get("draws_per_clip"), d.get("seed"),
                   d.get("error"))


@dataclass
class CheckpointResult:
    """One checkpoint's row of the sweep: the file, its verdict with the user's infer path (culprits, fixes,
    failed checks), the velocity and EMA figures, the quality signal and, in full mode, the scores per path and
    weight set (`path/weights` -> pooled scores, their spread over seeds and the per-utterance rows)."""

    name: str
    path: str
    update: int | None
    sha256: str | None
    bytes: int | None
    format: str | None
    weight_sets: list[str]
    status: str = "pending"  # done | error | pending (not computed yet)
    verdict: str = "pending"  # pass | fail | pending
    error: str | None = None
    quality: QualitySignal | None = None
    parity_verdict: str | None = None
    culprits: list[str] = field(default_factory=list)
    fixes: dict[str, str] = field(default_factory=dict)
    failed_checks: list[FailedCheck] = field(default_factory=list)
    first_divergence: dict[str, Any] = field(default_factory=dict)
    velocity_rel_l2: float | None = None
    ema: EmaHealth | None = None
    run: str | None = None  # its run.json, relative to the sweep folder
    scores: dict[str, dict[str, Any]] | None = None  # full mode only

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "path": self.path, "update": self.update, "sha256": self.sha256,
                               "bytes": self.bytes, "format": self.format, "weight_sets": self.weight_sets}
        if self.quality is not None:
            out["quality"] = self.quality.to_dict()
        if self.status == "error":
            return {**out, "status": "error", "error": self.error, "verdict": self.verdict}
        if self.status == "pending":
            return {**out, "status": "pending", "verdict": self.verdict}
        out.update({"status": self.status, "verdict": self.verdict, "parity_verdict": self.parity_verdict,
                    "culprits": self.culprits, "fixes": self.fixes,
                    "failed_checks": [f.to_dict() for f in self.failed_checks],
                    "first_divergence": self.first_divergence, "velocity_rel_l2": self.velocity_rel_l2,
                    "ema": self.ema.to_dict() if self.ema else None, "run": self.run})
        if self.scores is not None:
            out["scores"] = self.scores
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CheckpointResult":
        return cls(name=d["name"], path=d.get("path"), update=d.get("update"), sha256=d.get("sha256"),
                   bytes=d.get("bytes"), format=d.get("format"), weight_sets=list(d.get("weight_sets") or []),
                   status=d.get("status", "pending"), verdict=d.get("verdict", "pending"), error=d.get("error"),
                   quality=QualitySignal.from_dict(d.get("quality")), parity_verdict=d.get("parity_verdict"),
                   culprits=list(d.get("culprits") or []), fixes=dict(d.get("fixes") or {}),
                   failed_checks=[FailedCheck.from_dict(f) for f in d.get("failed_checks") or []],
                   first_divergence=dict(d.get("first_divergence") or {}), velocity_rel_l2=d.get("velocity_rel_l2"),
                   ema=EmaHealth.from_dict(d["ema"]) if d.get("ema") else None, run=d.get("run"),
                   scores=d.get("scores"))


@dataclass
class Recommendation:
    """The checkpoint and weight set to ship, and why in figures (see `recommend`)."""

    checkpoint: str
    update: int | None
    weights: str
    use_ema: bool
    signal: str
    computed_on: str  # the split judged: held-out where given, else fit
    signal_description: str
    loss: dict[str, Any]  # its flow loss: mean, 95 % interval, n
    best: dict[str, Any]  # the lowest loss among the candidates (checkpoint, update, weights, loss)
    is_tied: bool
    tied: list[dict[str, Any]]  # the pairs tied with it (checkpoint, update, weights, difference)
    load: str | None  # how to load the set, where it is not the one the user's path loads
    reason: str
    scores: dict[str, Any] | None = None  # its infer path's scores (full mode)

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "update": self.update, "weights": self.weights,
                "use_ema": self.use_ema, "signal": self.signal, "computed_on": self.computed_on,
                "signal_description": self.signal_description, "loss": self.loss, "best": self.best,
                "is_tied": self.is_tied, "tied": self.tied, "load": self.load, "reason": self.reason,
                "scores": self.scores}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Recommendation | None":
        return None if d is None else cls(**{f: d.get(f) for f in cls.__dataclass_fields__})


@dataclass
class Break:
    """A pass -> fail transition: where, of which kind (parity | probe | error), its culprits and fixes."""

    checkpoint: str
    update: int | None
    kind: str
    culprits: list[str]
    fixes: list[str]
    after: str | None  # the checkpoint before it, which passes (None: the oldest)

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "update": self.update, "kind": self.kind, "culprits": self.culprits,
                "fixes": self.fixes, "after": self.after}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Break | None":
        return None if d is None else cls(d["checkpoint"], d.get("update"), d["kind"], list(d.get("culprits") or []),
                                          list(d.get("fixes") or []), d.get("after"))


@dataclass
class QualityBreak:
    """The first save whose flow loss is worse than the best before it beyond the paired interval."""

    checkpoint: str
    update: int | None
    weights: str
    signal: str
    computed_on: str
    value: dict[str, Any]
    best_before: dict[str, Any]  # checkpoint, update, value
    difference: dict[str, Any]  # the paired difference: mean, 95 % interval

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "update": self.update, "weights": self.weights, "signal": self.signal,
                "computed_on": self.computed_on, "value": self.value, "best_before": self.best_before,
                "difference": self.difference}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "QualityBreak | None":
        return None if d is None else cls(**{f: d.get(f) for f in cls.__dataclass_fields__})


@dataclass
class SweepGateCheck:
    checkpoint: str | None  # None: the "no checkpoint to recommend" check
    update: int | None
    verdict: str | None
    passed: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"checkpoint": self.checkpoint, "update": self.update, "verdict": self.verdict, "passed": self.passed}
        return {**out, "reason": self.reason} if self.reason is not None else out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SweepGateCheck":
        return cls(d.get("checkpoint"), d.get("update"), d.get("verdict"), bool(d.get("passed")), d.get("reason"))


@dataclass
class SweepGate:
    """--gate best | all | last over the checkpoints, what it judges, and its condition when it passes only if
    the user changes their path."""

    mode: str
    passed: bool
    checks: list[SweepGateCheck] = field(default_factory=list)
    judges: str | None = None
    condition: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "passed": self.passed, "checks": [c.to_dict() for c in self.checks]}
        if self.judges is not None:
            out["judges"] = self.judges
        if self.condition is not None:
            out["condition"] = self.condition
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "SweepGate":
        d = d or {}
        return cls(d.get("mode") or "best", bool(d.get("passed")), [SweepGateCheck.from_dict(c) for c in
                                                                     d.get("checks") or []],
                   d.get("judges"), d.get("condition"))


@dataclass
class SweepReport:
    sources: list[str]
    settings: dict[str, Any]  # the settings' record (its digest keys the cache): what was asked, as given
    checkpoints: list[CheckpointResult]  # oldest first (update, then name)
    recommendation: Recommendation | None
    first_bad: Break | None  # the first failing checkpoint of any kind (parity | probe | error)
    parity_breaks: list[Break]  # kind parity only: the stages disagree
    gate: SweepGate
    verdict: str  # the gate's: pass | fail
    notes: list[str] = field(default_factory=list)
    quality_break: QualityBreak | None = None  # the shipped set's (see quality_breaks)
    quality_breaks: dict[str, QualityBreak | None] = field(default_factory=dict)  # per weight set
    check_failures: list[Break] = field(default_factory=list)  # kind probe | error: never parity breaks
    no_recommendation: str | None = None  # why recommendation is null
    execution: dict[str, Any] = field(default_factory=dict)  # timings, processes, units run/cached: varies by run
    training_log: dict[str, Any] | None = None  # F5's own training loss (tensorboard), beside the flow loss

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def checkpoint(self, name: str) -> CheckpointResult:
        return next(c for c in self.checkpoints if c.name == name)

    def to_json(self) -> dict[str, Any]:
        def part(x):
            return None if x is None else x.to_dict()

        return jsonable({
            "verdict": self.verdict,
            "recommendation": part(self.recommendation),
            "no_recommendation": self.no_recommendation,
            "quality_break": part(self.quality_break),
            "quality_breaks": {k: part(v) for k, v in self.quality_breaks.items()},
            "first_bad": part(self.first_bad),
            "parity_breaks": [b.to_dict() for b in self.parity_breaks],
            "check_failures": [b.to_dict() for b in self.check_failures],
            "gate": self.gate.to_dict(),
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "settings": self.settings,
            "sources": self.sources,
            "notes": self.notes,
            "training_log": self.training_log,
            "execution": self.execution,
        })

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SweepReport":
        return cls(sources=list(d.get("sources") or []), settings=d.get("settings") or {},
                   checkpoints=[CheckpointResult.from_dict(c) for c in d.get("checkpoints") or []],
                   recommendation=Recommendation.from_dict(d.get("recommendation")),
                   first_bad=Break.from_dict(d.get("first_bad")),
                   parity_breaks=[Break.from_dict(b) for b in d.get("parity_breaks") or []],
                   check_failures=[Break.from_dict(b) for b in d.get("check_failures") or []],
                   no_recommendation=d.get("no_recommendation"), gate=SweepGate.from_dict(d.get("gate")),
                   verdict=d.get("verdict", "fail"), notes=list(d.get("notes") or []),
                   quality_break=QualityBreak.from_dict(d.get("quality_break")),
                   quality_breaks={k: QualityBreak.from_dict(v) for k, v in (d.get("quality_breaks") or {}).items()},
                   execution=d.get("execution") or {}, training_log=d.get("training_log"))


# --- judgements -------------------------------------------------------------------------------------------


def _order(c: CheckpointResult) -> tuple:
    """Oldest first: by update; files without one (pruned exports) after every numbered one."""
    return (c.update is None, c.update if c.update is not None else 0, c.name)


def _culprits(c: CheckpointResult) -> list[str]:
    """What broke this checkpoint: the isolated factors, else the failed checks (a probe); never a score."""
    if c.status == "error":
        return ["unreadable"]
    if c.culprits:
        return list(c.culprits)
    return [f.name for f in _blocking_checks(c)]


def _blocking_checks(c: CheckpointResult) -> list[FailedCheck]:
    """Failed checks that bar shipping: not the parity summary itself, not a score threshold (quality is
    judged by the quality signal), not the EMA-health probe (its fix is the weight set, judged apart)."""
    return [f for f in c.failed_checks
            if f.name not in ("parity", EMA_PROBE) and not f.name.startswith(RUN_PROBES) and f.kind != "score"]


def failure_kind(c: CheckpointResult) -> str | None:
    """Why a checkpoint fails, or None: parity (the stages disagree), probe (a check of the file or the
    user's load path), error (unreadable, or its verdict could not be computed). Pending is not a failure."""
    if c.status == "pending":
        return None
    if c.status == "error":
        return "error"
    if c.parity_verdict in ("fail", "undecided"):  # undecided: the stages cannot vouch for the path
        return "parity"
    if _blocking_checks(c):
        return "probe"
    return None


LOAD = {
    "raw": "load it with use_ema=False (f5_tts.infer.utils_infer.load_model), or export the raw weights "
           "as a checkpoint of their own",
    "ema": "load it with use_ema=True (load_model's default, what f5-tts_infer-cli does)",
}


def _eligible_sets(c: CheckpointResult, infer_set: str, trainer_set: str) -> list[tuple[str, str]]:
    """(weight set, why) a checkpoint could ship with. Parity must hold with the user's settings, or the
    weight set must be its only culprit; then every set the file holds is a candidate (the weights are what
    is judged here), each with how to load it where it is not the set the user's path loads."""
    if c.status != "done":
        return []
    sets = [w for w in ("raw", "ema") if w in c.weight_sets]
    if c.parity_verdict == "pass" and not _blocking_checks(c):
        base = "parity holds with your infer settings"
    elif c.culprits == ["weights"] and not _blocking_checks(c):
        base = "parity holds apart from the weight set"
    else:
        return []
    return [(w, base if w == infer_set and base.endswith("settings") else f"{base}; {LOAD[w]}") for w in sets]


def _label(c: CheckpointResult, weights: str) -> str:
    return f"{c.name} ({weights}{'' if c.update is None else f', update {c.update}'})"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def recommend(checkpoints: list[CheckpointResult], *, infer_set: str, trainer_set: str = "raw") -> Recommendation | None:
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
    n_ok = len({c.name for c, *_ in candidates})
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
    return Recommendation(
        checkpoint=c.name, update=c.update, weights=weights, use_ema=weights == "ema", signal="flow_loss",
        computed_on=split, signal_description=DESCRIPTION[split], loss=mine,
        best={"checkpoint": best[0].name, "update": best[0].update, "weights": best[1], "loss": top},
        is_tied=len(tied) > 1,
        tied=[{"checkpoint": x[0].name, "update": x[0].update, "weights": x[1], "difference": d}
              for x, d in tied if x[0] is not c or x[1] != weights],
        load=None if weights == infer_set else LOAD[weights], reason=reason,
        scores=(c.scores or {}).get(score_key("infer", weights)))


def why_no_recommendation(checkpoints: list[CheckpointResult], *, infer_set: str) -> str:
    """Why `recommend` named nothing, in one sentence for the report."""
    from f5_parity.sweeps.quality import judged_split, samples_of

    done = [c for c in checkpoints if c.status == "done"]
    if not done:
        return "no checkpoint has a verdict yet (pending, or unreadable)"
    eligible = [(c, w) for c in done for w, _ in _eligible_sets(c, infer_set, "raw")]
    if not eligible:
        return ("in every checkpoint parity breaks beyond the weight set, or a check of the file or of your load "
                "path fails (see the parity breaks and check failures)")
    if not any(judged_split(c) and samples_of(c, w, judged_split(c)) for c, w in eligible):
        errors = sorted({c.quality.error for c, _ in eligible if c.quality is not None} - {None})
        return ("no quality signal: the flow-matching loss could not be computed on any checkpoint where parity "
                "holds" + (f" ({errors[0]})" if errors else "") + "; the newest is not named for being the newest")
    return "no checkpoint could be judged"


def quality_breaks(checkpoints: list[CheckpointResult]) -> dict[str, QualityBreak | None]:
    """Per weight set: the first save after the best so far whose loss is worse than that best beyond the
    paired interval (its whole 95 % interval of the difference above 0), or None."""
    from f5_parity.sweeps.quality import judged_split, paired_difference, samples_of, summarize

    ordered = [c for c in sorted(checkpoints, key=_order) if c.update is not None]
    split = next((judged_split(c) for c in ordered if judged_split(c)), None)
    out: dict[str, QualityBreak | None] = {}
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
                found = QualityBreak(c.name, c.update, weights, "flow_loss", split, summarize(samples),
                                     {"checkpoint": best[0].name, "update": best[0].update,
                                      "value": summarize(best[1])}, diff)
                break
            if diff["mean"] is not None and diff["mean"] < 0:
                best = (c, samples)
        if any(samples_of(c, weights, split) for c in ordered) if split else False:
            out[weights] = found
    return out


def quality_break(breaks_by_set: dict[str, QualityBreak | None], recommendation: Recommendation | None,
                  infer_set: str) -> QualityBreak | None:
    """The break of the set that ships (the recommended one, else the user's)."""
    weights = recommendation.weights if recommendation else infer_set
    return breaks_by_set.get(weights)


def breaks(checkpoints: list[CheckpointResult]) -> tuple[Break | None, list[Break], list[Break]]:
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
        if c.status == "pending":
            continue
        kind = failure_kind(c)
        previous_kind = failure_kind(previous) if previous is not None else None
        if kind and kind != previous_kind:
            entry = Break(c.name, c.update, kind, _culprits(c), _fixes(c),
                          previous.name if previous is not None else None)
            (parity if kind == "parity" else checks).append(entry)
            first = first or entry
        previous = c
    return first, parity, checks


def _fixes(c: CheckpointResult) -> list[str]:
    fixes = list(c.fixes.values())
    fixes += [f.fix for f in c.failed_checks if f.fix and not f.name.startswith(RUN_PROBES)]
    if c.status == "error":
        fixes.append(c.error or "")
    return list(dict.fromkeys(f for f in fixes if f))


def evaluate_sweep_gate(checkpoints: list[CheckpointResult], recommendation: Recommendation | None,
                        mode: str) -> SweepGate:
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
        judged = [c for c in ordered if recommendation and c.name == recommendation.checkpoint]
    checks = [SweepGateCheck(c.name, c.update, c.verdict,
                             c.verdict == "pass" or (mode == "best" and recommendation is not None)) for c in judged]
    shipped = None
    if mode == "best" and recommendation is not None:
        load = recommendation.load
        shipped = (f"ship {recommendation.checkpoint} with the {recommendation.weights} weights"
                   + (f" ({load})" if load else ""))
        for ch in checks:
            if ch.verdict != "pass":
                ch.reason = f"your infer path as it is fails here ({ch.verdict}); it passes if you {shipped}"
    passed = bool(checks) and all(ch.passed for ch in checks)
    if mode == "best" and recommendation is None:
        checks.append(SweepGateCheck(None, None, "fail", False, "no checkpoint to recommend"))
    gate = SweepGate(mode, passed, checks, GATE_JUDGES[mode])
    if passed and shipped and not any(c.verdict == "pass" for c in checkpoints):
        # the user's own path fails at every save: the pass is conditional, and says so on the first screen
        gate.condition = f"your infer path as it is fails at every checkpoint: the gate passes only if you {shipped}"
    return gate


GATE_JUDGES = {
    "best": "a checkpoint to ship exists: the recommended checkpoint with the recommended weight set, loaded as "
            "stated (not your infer path as it is)",
    "all": "your infer path as it is, on every checkpoint",
    "last": "your infer path as it is, on the newest checkpoint",
}
