"""Typed probe results: the JSON is the single source of truth; reports are rendered from it."""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # works, but a known pathology is hit
    INFO = "info"  # facts, no threshold to judge against
    SKIP = "skip"  # a need is missing; the reason is in `summary`
    ERROR = "error"  # the probe itself broke; the run goes on

    @property
    def failed(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


def jsonable(value: Any) -> Any:
    """Make metrics/evidence JSON-safe and stable (NaN/inf become strings, tuples lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "__dataclass_fields__"):
        return jsonable(asdict(value))
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return jsonable(value.item())
        except (ValueError, RuntimeError):
            pass
    return value


@dataclass
class ProbeResult:
    """What one probe found: outcome, numbers, the threshold they were judged by, and evidence."""

    probe: str
    status: Status
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] | None = None
    margin: float | None = None  # distance to the threshold; negative means it was crossed
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None
    duration_s: float = 0.0

    def __bool__(self) -> bool:  # like Polygraphy's comparison results
        return not self.status.failed

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "probe": self.probe,
                "status": self.status.value,
                "summary": self.summary,
                "metrics": self.metrics,
                "threshold": self.threshold,
                "margin": self.margin,
                "evidence": self.evidence,
                "fix": self.fix,
                "duration_s": round(self.duration_s, 4),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProbeResult":
        return cls(
            probe=d["probe"],
            status=Status(d["status"]),
            summary=d["summary"],
            metrics=d.get("metrics") or {},
            threshold=d.get("threshold"),
            margin=d.get("margin"),
            evidence=d.get("evidence") or {},
            fix=d.get("fix"),
            duration_s=d.get("duration_s", 0.0),
        )


# A run's warning: typed, below both the report (parity/result.py) and the observation (observe/path.py) that
# raise it, so neither imports the other for it.
@dataclass
class RunWarning:
    """Something that changes what the user hears without breaking parity (a clipped reference, a gen text
    that rushes, a path that draws its noise unseeded): the factor it belongs to, the case, the message with
    its fix, and the figures it quotes."""

    factor: str
    case: str
    message: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "case": self.case, "message": self.message, "metrics": self.metrics}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunWarning":
        return cls(factor=d.get("factor"), case=d.get("case"), message=d.get("message") or "",
                   metrics=dict(d.get("metrics") or {}))
