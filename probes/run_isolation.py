"""Isolation: the 1-minimal sets of factor differences that break parity, with their fixes."""

from f5_parity.parity.isolate import Isolation
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    run = ctx["run"]
    iso = run.isolation or Isolation()
    culprits = run.culprits
    metrics = {"tests_run": iso.tests_run, "culprits": len(culprits)}
    recorded = iso.to_dict()
    evidence = {"culprit_sets": recorded["culprit_sets"], "trials": recorded["trials"],
                "remaining_unresolved": recorded["remaining_unresolved"],
                "effects": {f: run.factors[f].effect for f in culprits}}
    if run.unbuilt and not culprits:  # nothing could be compared: never "no factor breaks parity"
        return ProbeResult("run.isolation", Status.FAIL, "not isolated: " + "; ".join(sorted(set(run.unbuilt.values()))),
                           metrics, evidence=evidence)
    if iso.remaining_unresolved and not culprits:
        return ProbeResult("run.isolation", Status.ERROR, "differences could not be judged: "
                           + ", ".join(iso.remaining_unresolved), metrics, evidence=evidence)
    if culprits:
        fixes = "; ".join(f"{f}: {run.factors[f].fix}" for f in culprits)
        return ProbeResult("run.isolation", Status.FAIL, "culprits: " + ", ".join(culprits), metrics,
                           evidence=evidence, fix=fixes)
    return ProbeResult("run.isolation", Status.PASS, "no factor breaks parity", metrics, evidence=evidence)


PROBE = Probe("run.isolation", "The factors that break parity", "run", check, needs=("run",), order=20)
