"""By-design differences that hit a known pathology (12 s clip, duration estimate, vocab, NFD)."""

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    run = ctx["run"]
    warnings = run.warnings
    evidence = {"warnings": [w.to_dict() for w in warnings], "by_design": [b.to_dict() for b in run.by_design]}
    metrics = {"warnings": len(warnings), "by_design_differences": len(run.by_design)}
    if warnings:
        factors = sorted({w.factor for w in warnings})
        return ProbeResult("run.pathologies", Status.WARN, f"{len(warnings)} known pathology hit(s) in: {', '.join(factors)}",
                           metrics, evidence=evidence)
    return ProbeResult("run.pathologies", Status.PASS, "no by-design difference hits a known pathology", metrics,
                       evidence=evidence)


PROBE = Probe("run.pathologies", "By-design differences and known pathologies", "run", check, needs=("run",), order=30)
