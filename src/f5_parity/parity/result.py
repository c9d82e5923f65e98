"""RunReport: the one typed result of `parity-check run` (and of the demo), with its one JSON codec.

run.json is `RunReport.to_json()`; report.md, the JUnit file, the step summary and the terminal
summary are rendered from a RunReport and never recompute or re-parse it.

`parity_verdict` is what the stage comparison and isolation decided; `verdict` is the whole run's
(parity AND the gate). They are two fields and are never copied into each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from f5_parity.parity.compare import StageComparison
from f5_parity.results import ProbeResult, jsonable

# The JSON keys in the order run.json has always written them.
_ORDER = ("verdict", "culprits", "factors", "warnings", "first_divergence", "stages", "by_design", "isolation",
          "specs", "notes", "mode", "tolerance_rule", "seconds", "unbuilt", "parity_verdict", "fingerprint",
          "checkpoint", "cases", "scores", "observed_infer", "artifacts", "probes", "gate", "reproducibility",
          "environment")
_OPTIONAL = ("unbuilt", "observed_infer", "environment")  # written only when present


@dataclass
class RunReport:
    verdict: str  # the run's: parity_verdict == "pass" and the gate passed
    parity_verdict: str  # the stage comparison and isolation's alone
    culprits: list[str]
    factors: dict[str, dict[str, Any]]
    warnings: list[dict[str, Any]]
    first_divergence: dict[str, str | None]
    stages: dict[str, list[StageComparison]]  # case -> its stages, in order; [] when nothing was compared
    by_design: list[dict[str, Any]]
    isolation: dict[str, Any]
    specs: dict[str, Any]
    notes: list[str]
    mode: str
    tolerance_rule: str
    seconds: float
    checkpoint: dict[str, Any]
    cases: list[dict[str, Any]]
    probes: list[ProbeResult]
    gate: dict[str, Any]
    reproducibility: dict[str, Any]
    fingerprint: dict[str, Any] | None = None
    scores: dict[str, Any] | None = None  # rows, pooled per path (keys wer, cer, cer_capped, similarity, ...), asr
    observed_infer: dict[str, Any] | None = None
    artifacts: dict[str, dict[str, str]] = field(default_factory=lambda: {"wavs": {}, "pngs": {}})
    unbuilt: dict[str, str] = field(default_factory=dict)  # case -> why the infer spec could not be built
    # the f5-tts judged (version, commit, edited functions), torch, device, and whether the trainer side was
    # the proven mirror or the installed Trainer's own code (parity/trainer_side.py)
    environment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # demo/fixture facts kept in the JSON (e.g. "demo")

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def gate_failures(self) -> list[dict[str, Any]]:
        return [c for c in self.gate.get("checks") or [] if not c.get("passed")]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _ORDER:
            value = getattr(self, key)
            if key in _OPTIONAL and not value:
                continue
            out[key] = [p.to_dict() for p in value] if key == "probes" else value
        out.update(self.extra)
        return jsonable(out)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "RunReport":
        known = {k: d.get(k) for k in _ORDER if k in d}
        known["probes"] = [ProbeResult.from_dict(p) for p in d.get("probes") or []]
        known["stages"] = {case: [StageComparison.from_dict(c) for c in comps]
                           for case, comps in (d.get("stages") or {}).items()}
        for key in _OPTIONAL:
            known.setdefault(key, None)
        known["unbuilt"] = known.get("unbuilt") or {}
        known.setdefault("artifacts", {"wavs": {}, "pngs": {}})
        extra = {k: v for k, v in d.items() if k not in _ORDER}
        return cls(**known, extra=extra)
