"""Partial run JSON as tests write it -> the typed RunReport the renderers take (defaults for the rest)."""

from __future__ import annotations

from f5_parity.parity.gate import evaluate_gate
from f5_parity.parity.result import RunReport
from f5_parity.parity.scores import RunScores
from f5_parity.results import ProbeResult, Status

DEFAULTS = dict(verdict="pass", culprits=[], factors={}, warnings=[], first_divergence={}, stages={}, by_design=[],
                isolation={}, specs={}, notes=[], mode="fast", tolerance_rule="", seconds=0.0, checkpoint={},
                cases=[], probes=[], gate={}, reproducibility={})


def probes_of(d: dict) -> list[ProbeResult]:
    return [p if isinstance(p, ProbeResult) else ProbeResult.from_dict({"summary": "", **p, "status": Status(p["status"])})
            for p in d.get("probes") or []]


def report_of(d: dict) -> RunReport:
    full = {**DEFAULTS, **d}
    full.setdefault("parity_verdict", full["verdict"])
    full["probes"] = [p.to_dict() for p in probes_of(d)]
    return RunReport.from_json(full)


def gate_of(d: dict, thresholds, source: str = "defaults") -> dict:
    return evaluate_gate(d.get("parity_verdict") or d["verdict"], probes_of(d), RunScores.from_dict(d.get("scores")),
                         thresholds,
                         source=source)
