"""Comparing one stage's output from two paths: statistics, a stated tolerance rule, a verdict.

The rule (written into every result): integer stages (token ids, durations) must be equal; float
stages pass when the relative L2 error ||a-b|| / ||a|| <= rel_tol. A shape mismatch fails. Every
comparison also reports max |a-b|, cosine similarity and SNR in dB, and the smallest rel_tol that
would have passed (Polygraphy's "minimum required tolerance").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

# Default per-stage tolerances. fp32 paths that compute the same thing agree to ~1e-6; a real
# misconfiguration moves the velocity by 1e-2 or more. The final mel integrates 32 steps, so it
# is allowed more.
DEFAULT_REL_TOL: dict[str, float] = {
    "cond_mel": 1e-4,
    "noise": 0.0,
    "timesteps": 1e-6,
    "velocity": 1e-3,
    "final_mel": 1e-2,
    "wav": 1e-2,
}
EXACT_STAGES = ("tokens", "duration")


def rule_text(tolerances: dict[str, float]) -> str:
    tol = ", ".join(f"{k} {v:g}" for k, v in tolerances.items())
    return (
        "integer stages (tokens, duration) must be equal; float stages pass when "
        f"||a-b||_2 / ||a||_2 <= rel_tol (trainer side as a), per stage: {tol}"
    )


@dataclass
class TensorStats:
    shape: list[int]
    dtype: str
    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, t: torch.Tensor) -> "TensorStats":
        f = t.detach().double()
        if f.numel() == 0:
            return cls(list(t.shape), str(t.dtype).replace("torch.", ""), 0.0, 0.0, 0.0, 0.0)
        return cls(list(t.shape), str(t.dtype).replace("torch.", ""), f.mean().item(),
                   f.std().item() if f.numel() > 1 else 0.0, f.min().item(), f.max().item())

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TensorStats | None":
        if not d:
            return None
        return cls(list(d["shape"]), d["dtype"], *(_float(d[k]) for k in ("mean", "std", "min", "max")))


@dataclass
class StageComparison:
    stage: str
    passed: bool
    rule: str  # "exact" or "rel_l2<=tol"
    rel_tol: float | None
    max_abs_diff: float | None = None
    rel_l2: float | None = None
    cosine: float | None = None
    snr_db: float | None = None
    min_required_rel_tol: float | None = None
    mismatched: int | None = None  # integer stages: how many elements differ
    a: TensorStats | None = None
    b: TensorStats | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from f5_parity.results import jsonable

        return jsonable(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StageComparison":
        """The inverse of to_dict (run.json's stages), so a report read back renders and re-saves the same."""
        return cls(stage=d["stage"], passed=bool(d["passed"]), rule=d.get("rule", ""), rel_tol=_float(d.get("rel_tol")),
                   max_abs_diff=_float(d.get("max_abs_diff")), rel_l2=_float(d.get("rel_l2")),
                   cosine=_float(d.get("cosine")), snr_db=_float(d.get("snr_db")),
                   min_required_rel_tol=_float(d.get("min_required_rel_tol")), mismatched=d.get("mismatched"),
                   a=TensorStats.from_dict(d.get("a")), b=TensorStats.from_dict(d.get("b")),
                   note=d.get("note") or "", extra=dict(d.get("extra") or {}))


def _float(x: Any) -> Any:
    """A number read back from JSON, where jsonable wrote inf/nan as strings."""
    return float(x) if isinstance(x, str) and x in ("inf", "-inf", "nan") else x


def _finite(x: float) -> float:
    return x if math.isfinite(x) else float("inf")


def compare_tensors(stage: str, a: torch.Tensor, b: torch.Tensor, rel_tol: float | None = None) -> StageComparison:
    """Compare path A's (the trainer's) stage output with path B's."""
    a = torch.as_tensor(a).detach().cpu()
    b = torch.as_tensor(b).detach().cpu()
    stats_a, stats_b = TensorStats.of(a), TensorStats.of(b)
    exact = stage in EXACT_STAGES or not (a.is_floating_point() or b.is_floating_point())
    if a.shape != b.shape:
        return StageComparison(stage, False, "exact" if exact else "rel_l2<=tol", rel_tol, a=stats_a, b=stats_b,
                               note=f"shape differs: {list(a.shape)} vs {list(b.shape)}")
    if exact:
        mismatched = int((a != b).sum().item())
        return StageComparison(stage, mismatched == 0, "exact", None, mismatched=mismatched,
                               max_abs_diff=float((a.double() - b.double()).abs().max().item()) if a.numel() else 0.0,
                               a=stats_a, b=stats_b)
    tol = DEFAULT_REL_TOL.get(stage, 1e-4) if rel_tol is None else rel_tol
    ad, bd = a.double().flatten(), b.double().flatten()
    diff = ad - bd
    norm_a = ad.norm().item()
    norm_d = diff.norm().item()
    rel = norm_d / norm_a if norm_a > 0 else (0.0 if norm_d == 0 else float("inf"))
    denom = ad.norm().item() * bd.norm().item()
    cosine = float((ad @ bd).item() / denom) if denom > 0 else (1.0 if norm_d == 0 else 0.0)
    snr = float("inf") if norm_d == 0 else 20 * math.log10(norm_a / norm_d) if norm_a > 0 else float("-inf")
    return StageComparison(
        stage,
        passed=rel <= tol,
        rule="rel_l2<=tol",
        rel_tol=tol,
        max_abs_diff=float(diff.abs().max().item()) if diff.numel() else 0.0,
        rel_l2=_finite(rel),
        cosine=cosine,
        snr_db=snr,
        min_required_rel_tol=_finite(rel),
        a=stats_a,
        b=stats_b,
    )


def first_divergence(comparisons: list[StageComparison]) -> str | None:
    for c in comparisons:
        if not c.passed:
            return c.stage
    return None
