"""One checkpoint's row of the report, from its units' results (cached or just computed): the verdict, the
scores over seeds, the gate with the scores.
"""

from __future__ import annotations

from typing import Any

from f5_parity.sweeps.quality import quality_row
from f5_parity.scoring.stats import sig
from f5_parity.sweeps.report import (CheckpointResult, EmaHealth, FailedCheck, QualitySignal, pool_rows,
                                     score_key)
from f5_parity.sweeps.units import PlannedCheckpoint, SweepSettings


def checkpoint_result(entry: PlannedCheckpoint, results: dict[str, dict[str, Any]],
                      settings: SweepSettings) -> CheckpointResult:
    """A checkpoint's row of the report, from its units' results (cached or just computed)."""
    row = CheckpointResult(entry.name, entry.path, entry.update, entry.sha256, entry.bytes, entry.format,
                           entry.weight_sets)
    if entry.error:
        row.status, row.error, row.verdict = "error", entry.error, "fail"
        return row
    row.quality = QualitySignal.from_dict(quality_row(results.get("quality")))
    verdict = results.get("verdict")
    if verdict is None:
        return row  # pending
    if "error" in verdict:
        row.status, row.error, row.verdict = "error", verdict["error"], "fail"
        return row
    run = verdict["run"]
    probes = {p["probe"]: p for p in run.get("probes") or []}
    ema = (probes.get("ckpt.ema_health") or {}).get("metrics") or {}
    for check in (run.get("gate") or {}).get("checks") or []:
        if check.get("passed"):
            continue
        name = check["name"]
        probe = probes.get(name.removeprefix("probe:")) if name.startswith("probe:") else None
        row.failed_checks.append(FailedCheck(name, probe["summary"] if probe else f"{name}: {check.get('value')}",
                                             probe.get("fix") if probe else None))
    factors = run.get("factors") or {}
    row.status, row.verdict, row.parity_verdict = "done", run["verdict"], run["parity_verdict"]
    row.culprits = run.get("culprits") or []
    row.fixes = {f: factors[f]["fix"] for f in row.culprits if factors.get(f, {}).get("fix")}
    row.first_divergence = run.get("first_divergence") or {}
    row.velocity_rel_l2 = _velocity(run)
    row.ema = EmaHealth(ema.get("ema_step"), sig(ema.get("share")), sig(ema.get("rel_l2")),
                        (probes.get("ckpt.ema_health") or {}).get("summary"))
    row.run = run_json_path(entry.name)
    if settings.mode == "full":
        row.scores = _scores(results)
        _gate_with_scores(row, run, settings)
    return row


def run_json_path(name: str) -> str:
    return f"checkpoints/{name}.run.json"


def _velocity(run: dict[str, Any]) -> float | None:
    """The velocity stage's relative L2 (infer vs trainer) on the first case: the fast verdict's key number."""
    for comps in (run.get("stages") or {}).values():
        for c in comps:
            if c.get("stage") == "velocity":
                return sig(c.get("rel_l2"))
        break
    return None


def _scores(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {}
    for key, r in results.items():
        if key in ("verdict", "quality"):
            continue
        _, path, weights, _ = key.rsplit("--", 3)
        by.setdefault(score_key(path, weights), []).append(r)
    out = {}
    for k in sorted(by):
        rows = sorted(by[k], key=lambda r: (r.get("case") or "", r.get("seed") or 0))
        out[k] = {**pool_rows(rows), "over_seeds": over_seeds(rows),
                  "rows": [{x: r.get(x) for x in ("case", "seed", "hypothesis", "cer", "wer", "similarity", "mcd",
                                                  "logmel", "speaker_similarity", "truth", "wav", "observed", "error")
                            if r.get(x) is not None} for r in rows]}
    return out


SEED_SCORE_METRICS = ("wer", "cer", "similarity", "mcd", "logmel", "speaker_similarity")


def over_seeds(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric pooled over the cases of one seed (ASR as pool_rows pools; acoustic as the case mean), then
    its mean and Student-t 95 % interval over the seeds: the spread a new noise draw would give."""
    from f5_parity.scoring.stats import interval

    seeds = sorted({r["seed"] for r in rows if "error" not in r and r.get("seed") is not None})
    per_seed: dict[str, list[float | None]] = {m: [] for m in SEED_SCORE_METRICS}
    for seed in seeds:
        mine = [r for r in rows if r.get("seed") == seed and "error" not in r]
        pooled = pool_rows(mine)
        for m in SEED_SCORE_METRICS:
            if m in ("wer", "cer", "similarity"):
                per_seed[m].append(pooled.get(m))
            else:
                vals = [r[m] for r in mine if isinstance(r.get(m), (int, float))]
                per_seed[m].append(sum(vals) / len(vals) if vals else None)
    return {"seeds": seeds, **{m: {**interval(v), "per_seed": v} for m, v in per_seed.items()
                                if any(x is not None for x in v)}}


def _gate_with_scores(row: CheckpointResult, run: dict[str, Any], settings: SweepSettings) -> None:
    """The run's gate again, now with the sweep's scores: the trainer's set on the trainer path, the user's
    set on the infer path (the pairs `run --mode full` gates)."""
    from f5_parity.parity.gate import evaluate_gate
    from f5_parity.parity.scores import RunScores
    from f5_parity.results import ProbeResult

    scores = row.scores or {}
    trainer = scores.get(score_key("trainer-heldout", settings.train.value("weights")["set"]))
    infer_set = ("as-run" if settings.runner_kind()[0] in ("custom", "script")
                 else settings.infer.value("weights")["set"])
    infer = scores.get(score_key("infer", infer_set))
    pooled = {k: v for k, v in (("trainer-heldout", trainer), ("infer", infer)) if v and v.get("n")}
    if settings.thresholds is None or not pooled:
        return
    probes = [ProbeResult.from_dict(p) for p in run.get("probes") or []]
    gate = evaluate_gate(run["parity_verdict"], probes, RunScores.from_dict({"pooled": pooled}), settings.thresholds,
                         source=settings.threshold_source)
    row.verdict = "pass" if run["parity_verdict"] == "pass" and gate["passed"] else "fail"
    known = {f.name for f in row.failed_checks}
    for check in gate["checks"]:
        name = check["name"] if check.get("path") is None else f"{check['name']}[{check['path']}]"
        if not check["passed"] and name not in known and check["name"] not in known:
            # kind "score": a quality threshold, never a parity culprit (sweeps/report.py)
            row.failed_checks.append(FailedCheck(name, f"{name} = {check.get('value')} (limit {check.get('op')} "
                                                 f"{check.get('threshold')})", None, kind="score"))
