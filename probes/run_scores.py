"""Scores: every generated wav against its text, beside the baselines of the same ASR (full mode)."""

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def _cer(value) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def check(ctx: ProbeContext) -> ProbeResult:
    scores = ctx["run"].scores
    if not scores:
        return ProbeResult("run.scores", Status.SKIP, "skipped: fast mode generates no audio (use --mode full)")
    pooled = scores.pooled
    metrics = {f"{path}.{k}": v.value(k) for path, v in pooled.items() for k in ("cer", "wer", "similarity")}
    evidence = {"asr": scores.asr, "rows": [{k: r.value(k) for k in ("case", "path", "expected", "hypothesis", "cer",
                                                                       "similarity")} for r in scores.rows]}
    trainer, infer = pooled.get("trainer"), pooled.get("infer-copy")
    summary = ", ".join(f"{p} CER {_cer(v.cer)}" for p, v in pooled.items())
    if (trainer and infer and isinstance(trainer.cer, (int, float)) and isinstance(infer.cer, (int, float))
            and infer.cer > trainer.cer + 0.2):
        return ProbeResult("run.scores", Status.WARN, "infer scores far below the trainer's: " + summary, metrics,
                           evidence=evidence)
    return ProbeResult("run.scores", Status.INFO, summary, metrics, evidence=evidence)


PROBE = Probe("run.scores", "ASR scores per path beside the baselines", "run", check, needs=("run",), order=40)
