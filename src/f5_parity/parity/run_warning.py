"""A run's warning: typed, below both the report (parity/result.py) and the observation (parity/observed.py) that
raise it, so neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
