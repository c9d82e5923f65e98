"""Stage parity: trainer vs infer on identical inputs, the first stage that diverges per case."""

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    run = ctx["run"]
    diverged = {case: stage for case, stage in run.first_divergence.items() if stage}
    metrics = {f"{case}.first_divergence": stage for case, stage in run.first_divergence.items()}
    # evidence is JSON data (report.md and the JUnit file dump it as it is): the stages' own codec
    keys = ("stage", "passed", "rel_l2", "rel_tol", "mismatched", "note")
    evidence = {case: [{k: d[k] for k in keys} for d in (c.to_dict() for c in comps)]
                for case, comps in run.stages.items()}
    if diverged:
        where = ", ".join(f"{c} at {s}" for c, s in diverged.items())
        return ProbeResult("run.stage_parity", Status.FAIL, f"paths diverge: {where}", metrics,
                           threshold={"rule": run.tolerance_rule}, evidence=evidence)
    return ProbeResult("run.stage_parity", Status.PASS, f"all stages within tolerance on {len(run.stages)} case(s)",
                       metrics, threshold={"rule": run.tolerance_rule}, evidence=evidence)


PROBE = Probe("run.stage_parity", "Trainer vs infer, stage by stage", "run", check, needs=("run",), order=10)
