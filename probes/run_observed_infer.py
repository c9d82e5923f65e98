"""What the user's infer path really did: findings where the flags' prediction and the observation differ,
a path that could not run, and the mirror check (the engine's rebuild gives the path's own velocity)."""

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    observed = ctx["run"].observed_infer
    if not observed:
        return ProbeResult("run.observed_infer", Status.SKIP, "skipped: the infer path was not observed")
    findings = observed.get("findings") or []
    disagree = [fid for fid, f in (observed.get("factors") or {}).items() if not f.get("agrees")]
    metrics = {"status": observed.get("status"), "findings": len(findings), "factors_not_as_predicted": len(disagree)}
    evidence = {"factors": observed.get("factors"), "findings": findings, "failure": observed.get("failure"),
                "mirror_check": observed.get("mirror_check"), "notes": observed.get("notes")}
    failure = observed.get("failure")
    if failure:
        err = failure.get("error") or {}
        return ProbeResult("run.observed_infer", Status.FAIL,
                           f"your infer path failed before it generated ({failure.get('stage')}): "
                           f"{err.get('type')}: {err.get('message')}", metrics, evidence=evidence,
                           fix=failure.get("fix"))
    check_ = observed.get("mirror_check") or {}
    if check_.get("checked") and not check_.get("passed"):
        return ProbeResult("run.observed_infer", Status.FAIL,
                           "the engine's rebuild of your path's spec does not compute what your path computes "
                           f"(velocity rel L2 {check_.get('rel_l2')}): the verdict cannot be trusted",
                           metrics, threshold={"rel_tol": check_.get("rel_tol")}, evidence=evidence)
    if findings:
        return ProbeResult("run.observed_infer", Status.WARN,
                           "your path did not do what the flags say: " + "; ".join(f["message"] for f in findings),
                           metrics, evidence=evidence,
                           fix="the verdict is judged on what your path did; correct the flags or the path")
    return ProbeResult("run.observed_infer", Status.PASS, "your path did what the flags say (every factor observed)",
                       metrics, evidence=evidence)


PROBE = Probe("run.observed_infer", "What the infer path really did", "run", check, needs=("run",), order=5)
