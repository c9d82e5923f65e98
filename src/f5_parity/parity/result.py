"""RunReport: the one typed result of `parity-check run` (and of the demo), with its one JSON codec.

run.json is `RunReport.to_json()`; report.md, the JUnit file, the step summary and the terminal
summary are rendered from a RunReport and never recompute or re-parse it.

`parity_verdict` is what the stage comparison and isolation decided; `verdict` is the whole run's
(parity AND the gate). They are two fields and are never copied into each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from f5_parity.compare import StageComparison
from f5_parity.parity.isolate import Isolation
from f5_parity.observe.path import InferObservation
from f5_parity.results import RunWarning  # noqa: F401 (a part of RunReport, imported from here too)
from f5_parity.parity.scores import RunScores
from f5_parity.results import ProbeResult, jsonable

@dataclass
class Reproducibility:
    """What it takes to run it again: the component versions, the ASR model that scored, the checkpoint's
    sha256, the seed, the device, the command as typed and when it ran (the last two wall-clock facts)."""

    versions: dict[str, str | None] = field(default_factory=dict)
    asr_model: str | None = None
    checkpoint_sha256: str | None = None
    seed: int | None = None
    device: str | None = None
    command: str | None = None
    created: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Reproducibility | None":
        if not d:
            return None
        return cls(**{f.name: d.get(f.name) for f in fields(cls)} | {"versions": dict(d.get("versions") or {})})


@dataclass
class Factor:
    """One factor of the two paths (parity/session.py): both sides' values, whether it differs (before and
    after the by-design alignment), whether it is a culprit, its effect measured alone and its fix."""

    title: str
    train: Any
    infer: Any
    differs: bool
    differs_after_alignment: bool | None  # None: nothing was compared (the infer path failed)
    by_design_keys: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # settings the weights cannot reveal
    culprit: bool = False
    effect: dict[str, Any] | None = None  # stage -> rel L2 (or ids that differ), first_divergence, buildable, ...
    fix: str | None = None
    # Why the tool cannot decide this factor (the Trainer's vocoder weights are not readable here): never a
    # culprit, never a silent "equal"; None: decided
    undecided: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("title", "train", "infer", "differs", "differs_after_alignment",
                                               "by_design_keys", "unknown", "culprit", "effect", "fix", "undecided")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Factor":
        return cls(title=d.get("title", ""), train=d.get("train"), infer=d.get("infer"),
                   differs=bool(d.get("differs")), differs_after_alignment=d.get("differs_after_alignment"),
                   by_design_keys=list(d.get("by_design_keys") or []), unknown=list(d.get("unknown") or []),
                   culprit=bool(d.get("culprit")), effect=d.get("effect"), fix=d.get("fix"),
                   undecided=d.get("undecided"))


@dataclass
class ByDesignDifference:
    """A difference the two paths have on purpose (text framing, duration rule, reference preprocessing),
    measured alone on the trainer path: effect maps stage -> rel L2 (or ids that differ) and first_divergence."""

    factor: str
    key: str
    train: Any
    infer: Any
    effect: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "key": self.key, "train": self.train, "infer": self.infer,
                "effect": self.effect}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ByDesignDifference":
        return cls(factor=d["factor"], key=d["key"], train=d.get("train"), infer=d.get("infer"),
                   effect=dict(d.get("effect") or {}))


@dataclass
class CheckpointRef:
    """The checkpoint a run judged: where it was, its file name's stem, and its content hash."""

    path: str
    name: str
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "CheckpointRef | None":
        if not d:
            return None
        return cls(path=str(d["path"]), name=d.get("name") or Path(str(d["path"])).stem, sha256=d.get("sha256"))


@dataclass
class GateCheck:
    """One check of the gate: `value op threshold` must hold (parity == pass, wer <= 1.0, a probe not failed)."""

    name: str
    path: str | None
    case: str | None
    value: Any
    threshold: Any
    op: str  # "<=", ">=", "==", "not in"
    passed: bool
    against: str | None = None  # gap checks: the baseline path the gap is measured from
    seeds: int | None = None  # judged over seeds: how many, and the 95 % interval
    interval: list[Any] | None = None
    # gap checks judged over seeds (parity/gate.py GAP_RULE): the (case, seed) units, the test's p, its outcome
    units: int | None = None
    p_value: float | None = None
    beyond_noise: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        # The optional keys are written only where parity/gate.py sets them, in its order.
        out = {k: getattr(self, k) for k in ("name", "path", "case", "value", "threshold", "op", "passed")}
        if self.against is not None:
            out["against"] = self.against
        if self.seeds is not None:
            out.update(seeds=self.seeds, interval=self.interval)
        if self.units is not None:
            out.update(units=self.units, p_value=self.p_value, beyond_noise=self.beyond_noise)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GateCheck":
        return cls(**{k: d.get(k) for k in ("name", "path", "case", "value", "threshold", "op", "against", "seeds",
                                              "interval", "units", "p_value", "beyond_noise")},
                   passed=bool(d.get("passed")))


@dataclass
class GateResult:
    """The gate: every check, the thresholds they used and where those came from."""

    passed: bool
    thresholds: dict[str, Any]
    source: str
    checks: list[GateCheck]

    @property
    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "thresholds": self.thresholds, "source": self.source,
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "GateResult | None":
        if not d:
            return None
        return cls(passed=bool(d.get("passed")), thresholds=dict(d.get("thresholds") or {}),
                   source=d.get("source", "defaults"), checks=[GateCheck.from_dict(c) for c in d.get("checks") or []])


# The JSON keys in the order run.json has always written them.
_ORDER = ("verdict", "culprits", "factors", "warnings", "first_divergence", "stages", "by_design", "isolation",
          "specs", "notes", "mode", "tolerance_rule", "seconds", "unbuilt", "parity_verdict", "undecided", "fingerprint",
          "checkpoint", "cases", "scores", "observed_infer", "artifacts", "probes", "gate", "reproducibility",
          "environment")
_OPTIONAL = ("unbuilt", "undecided", "observed_infer", "environment")  # written only when present


@dataclass
class RunReport:
    verdict: str  # the run's: parity_verdict == "pass" and the gate passed
    parity_verdict: str  # the stage comparison and isolation's alone
    culprits: list[str]
    factors: dict[str, Factor]  # factor id -> the factor, in the engine's order
    warnings: list[RunWarning]
    first_divergence: dict[str, str | None]
    stages: dict[str, list[StageComparison]]  # case -> its stages, in order; [] when nothing was compared
    by_design: list[ByDesignDifference]
    isolation: Isolation | None  # None only in partial reports (tests); run.json then says {}
    specs: dict[str, Any]
    notes: list[str]
    mode: str
    tolerance_rule: str
    seconds: float
    checkpoint: CheckpointRef | None  # None only in partial reports (tests); run.json then says {}
    cases: list[dict[str, Any]]
    probes: list[ProbeResult]
    gate: GateResult | None  # None only before the gate ran (run.json then says {})
    reproducibility: Reproducibility | None  # None until the pipeline's last step; run.json then says {}
    fingerprint: dict[str, Any] | None = None
    scores: RunScores | None = None  # full mode only: every wav transcribed, pooled per path, acoustic, seeds
    observed_infer: InferObservation | None = None  # what the user's infer path really did
    artifacts: dict[str, dict[str, str]] = field(default_factory=lambda: {"wavs": {}, "pngs": {}})
    unbuilt: dict[str, str] = field(default_factory=dict)  # case -> why the infer spec could not be built
    # the f5-tts judged (version, commit, edited functions), torch, device, and whether the trainer side was
    # the proven mirror or the installed Trainer's own code (parity/trainer_side.py)
    environment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # demo/fixture facts kept in the JSON (e.g. "demo")
    # parity_verdict "undecided": why the stages cannot vouch for the user's path (the engine's rebuild of it
    # does not compute what it computed; a text it passed that the engine cannot reproduce)
    undecided: list[str] = field(default_factory=list)
    # where run.json and report.md were written (set by the engine once they are; not part of run.json)
    report_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def summary_lines(self, *, bold: str = "") -> list[str]:
        """The verdict, each culprit with its fix, why it is not decided, and where the files went: what a
        notebook or `print(report)` shows (report.md holds the rest)."""
        name = self.checkpoint.name if self.checkpoint else "checkpoint"
        word = ("NOT DECIDED" if self.parity_verdict == "undecided" else "PASSED" if self.passed else "FAILED")
        gate = f", gate {'pass' if self.gate.passed else 'fail'}" if self.gate else ""
        lines = [f"{bold}{word}{bold} parity-check run of {name} ({self.mode} mode): parity {self.parity_verdict}{gate}; "
                 f"culprits: {', '.join(self.culprits) or 'none'}"]
        for fid in self.culprits:
            f = self.factors.get(fid)
            lines.append(f"- {bold}{fid}{bold}: {f.fix if f and f.fix else 'no fix recorded'}")
        lines += [f"- not decided: {why}" for why in self.undecided]
        failed = [c.name for c in self.gate_failures if c.name != "parity"]
        if failed:
            lines.append(f"- gate checks failed: {', '.join(failed)}")
        if self.report_dir is not None:
            lines.append(f"- report: {Path(self.report_dir) / 'report.md'} (run.json beside it)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def _repr_markdown_(self) -> str:  # Jupyter shows this instead of the dataclass repr
        return "\n".join(self.summary_lines(bold="**"))

    @property
    def gate_failures(self) -> list[GateCheck]:
        return self.gate.failures if self.gate else []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _ORDER:
            value = getattr(self, key)
            if key in _OPTIONAL and not value:
                continue
            if key in ("gate", "checkpoint", "isolation", "reproducibility") and value is None:
                value = {}
            out[key] = [p.to_dict() for p in value] if key == "probes" else value
        out.update(self.extra)
        return jsonable(out)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "RunReport":
        known = {k: d.get(k) for k in _ORDER if k in d}
        known["probes"] = [ProbeResult.from_dict(p) for p in d.get("probes") or []]
        known["stages"] = {case: [StageComparison.from_dict(c) for c in comps]
                           for case, comps in (d.get("stages") or {}).items()}
        known["gate"] = GateResult.from_dict(d.get("gate"))
        known["by_design"] = [ByDesignDifference.from_dict(b) for b in d.get("by_design") or []]
        known["factors"] = {fid: Factor.from_dict(f) for fid, f in (d.get("factors") or {}).items()}
        known["warnings"] = [RunWarning.from_dict(w) for w in d.get("warnings") or []]
        known["isolation"] = Isolation.from_dict(d.get("isolation"))
        known["reproducibility"] = Reproducibility.from_dict(d.get("reproducibility"))
        known["checkpoint"] = CheckpointRef.from_dict(d.get("checkpoint"))
        known["scores"] = RunScores.from_dict(d.get("scores"))
        known["observed_infer"] = InferObservation.from_dict(d.get("observed_infer"))
        for key in _OPTIONAL:
            known.setdefault(key, None)
        known["unbuilt"] = known.get("unbuilt") or {}
        known["undecided"] = list(known.get("undecided") or [])
        known.setdefault("artifacts", {"wavs": {}, "pngs": {}})
        extra = {k: v for k, v in d.items() if k not in _ORDER}
        return cls(**known, extra=extra)
