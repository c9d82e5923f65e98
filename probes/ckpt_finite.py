"""NaN/inf weights: counted per weight set; any is a FAIL (every path would synthesize NaN)."""

from __future__ import annotations

from f5_parity.checkpoint.finite import nonfinite_counts
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def check(ctx: ProbeContext) -> ProbeResult:
    counts = nonfinite_counts(ctx["checkpoint"])
    metrics = {}
    for name, c in counts.items():
        metrics[f"{name}_nan"] = c.nan
        metrics[f"{name}_inf"] = c.inf
        metrics[f"{name}_values"] = c.values
    evidence = {name: c.to_dict() for name, c in counts.items()}
    bad = [c for c in counts.values() if not c.clean]
    if bad:
        parts = []
        for c in bad:
            where = ", ".join(t["key"] for t in c.bad_tensors[:3])
            parts.append(f"{c.weight_set}: {c.nan:,} NaN and {c.inf:,} inf of {c.values:,} values "
                         f"({(c.nan + c.inf) / max(c.values, 1):.2%}; first in {where})")
        clean = [c.weight_set for c in counts.values() if c.clean]
        fix = ("the training diverged or the file was corrupted: take an earlier checkpoint"
               + (f"; the {', '.join(clean)} weights are finite" if clean else ""))
        return ProbeResult(PROBE.id, Status.FAIL, "non-finite weights: " + "; ".join(parts), metrics=metrics,
                           evidence=evidence, fix=fix)
    summary = ", ".join(f"{c.weight_set} {c.values:,} values" for c in counts.values())
    return ProbeResult(PROBE.id, Status.PASS, f"every weight is finite ({summary})", metrics=metrics, evidence=evidence)


PROBE = Probe(
    id="ckpt.finite",
    title="Finite weights",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=35,
)
