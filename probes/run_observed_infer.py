"""What the user's infer path really did: findings where the flags' prediction and the observation differ,
a path that could not run, and the mirror check (the engine's rebuild gives the path's own velocity)."""

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    observed = ctx["run"].observed_infer
    if not observed:
        return ProbeResult("run.observed_infer", Status.SKIP, "skipped: the infer path was not observed")
    findings = [f.to_dict() for f in observed.findings]
    disagree = [fid for fid, f in observed.factors.items() if f.agrees is False]
    metrics = {"status": observed.status, "findings": len(findings), "factors_not_as_predicted": len(disagree)}
    mirror = observed.mirror_check
    failure = observed.failure
    evidence = {"factors": {fid: f.to_dict() for fid, f in observed.factors.items()}, "findings": findings,
                "failure": failure.to_dict() if failure else None,
                "mirror_check": mirror.to_dict() if mirror else None, "notes": observed.notes}
    if failure:
        err = failure.error
        return ProbeResult("run.observed_infer", Status.FAIL,
                           f"your infer path failed before it generated ({failure.stage}): "
                           f"{err.get('type')}: {err.get('message')}", metrics, evidence=evidence,
                           fix=failure.fix)
    port = observed.port
    if port is not None:  # a runtime port: its graphs were judged stage by stage (ports/judge.py)
        evidence["port"] = port.to_dict()
        stages = ", ".join(f"{g.stage} ({g.graph.rsplit('/', 1)[-1]}, {g.calls} calls)" for g in port.graphs)
        metrics.update(graphs=len(port.graphs), stages_compared=len(port.stages))
        if port.culprits or port.unexplained:
            return ProbeResult("run.observed_infer", Status.FAIL,
                               "your runtime port departs from the checkpoint: " + "; ".join(
                                   [f"{c.stage}: {c.what}" for c in port.culprits] + port.unexplained),
                               metrics, evidence=evidence, fix="; ".join(c.fix for c in port.culprits) or None)
        return ProbeResult("run.observed_infer", Status.PASS if port.stages else Status.WARN,
                           f"your path ran a runtime port, judged graph by graph: {stages}" +
                           ("" if port.stages else "; no graph could be compared"), metrics, evidence=evidence)
    if mirror is not None and mirror.checked and not mirror.passed:
        return ProbeResult("run.observed_infer", Status.FAIL,
                           "the engine's rebuild of your path's spec does not compute what your path computes "
                           f"(velocity rel L2 {mirror.rel_l2}): the verdict cannot be trusted",
                           metrics, threshold={"rel_tol": mirror.rel_tol}, evidence=evidence)
    if findings:
        return ProbeResult("run.observed_infer", Status.WARN,
                           "your path did not do what the flags say: " + "; ".join(f["message"] for f in findings),
                           metrics, evidence=evidence,
                           fix="the verdict is judged on what your path did; correct the flags or the path")
    return ProbeResult("run.observed_infer", Status.PASS, "your path did what the flags say (every factor observed)",
                       metrics, evidence=evidence)


PROBE = Probe("run.observed_infer", "What the infer path really did", "run", check, needs=("run",), order=5)
