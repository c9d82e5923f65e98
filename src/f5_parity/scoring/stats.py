"""Seed statistics: a mean with its 95 % interval, and paired tests between two conditions.

Everything F5 generates depends on a noise draw, so one number per path can flap from run to run. A
metric measured over N seeds is reported as its mean with a Student-t interval; two conditions measured
on the same seeds and cases are compared through their paired differences (paired t-test, two-sided),
with the effect size (Cohen's d_z: mean difference / its standard deviation) beside the p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

CONFIDENCE = 0.95


def _clean(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def sig(x: Any, digits: int = 6) -> Any:
    """Floats to `digits` significant digits: the report's numbers, stable across thread counts and processes."""
    if isinstance(x, bool) or not isinstance(x, float):
        return x
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def interval(values: Sequence[float | None], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """{"mean", "lo", "hi", "half_width", "n", "confidence"}: lo/hi are None with fewer than two values."""
    from scipy import stats

    v = _clean(values)
    n = len(v)
    if n == 0:
        return {"mean": None, "lo": None, "hi": None, "half_width": None, "n": 0, "confidence": confidence}
    mean = math.fsum(v) / n
    if n < 2:
        return {"mean": mean, "lo": None, "hi": None, "half_width": None, "n": 1, "confidence": confidence}
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "half_width": half, "n": n, "confidence": confidence}


@dataclass
class PairedTest:
    """b - a over paired observations (same seed, same case)."""

    n: int
    mean_difference: float | None
    interval: dict[str, Any]
    p_value: float | None  # two-sided paired t-test; None below two pairs
    effect_size: float | None  # Cohen's d_z; inf when every difference is equal and non-zero

    def significant(self, alpha: float) -> bool:
        return self.p_value is not None and self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean_difference": self.mean_difference, "interval": self.interval,
                "p_value": self.p_value, "effect_size": self.effect_size, "test": "paired t-test, two-sided"}


def paired_test(a: Sequence[float | None], b: Sequence[float | None]) -> PairedTest:
    """Paired t-test of b against a (pairs where either side is missing are dropped)."""
    from scipy import stats

    pairs = [(x, y) for x, y in zip(a, b) if _clean([x]) and _clean([y])]
    d = [float(y) - float(x) for x, y in pairs]
    n = len(d)
    if n == 0:
        return PairedTest(0, None, interval([]), None, None)
    ci = interval(d)
    mean = ci["mean"]
    if n < 2:
        return PairedTest(n, mean, ci, None, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    if sd == 0.0:  # identical differences: certain when non-zero, no evidence when zero
        return PairedTest(n, mean, ci, 0.0 if mean != 0 else 1.0, math.inf if mean != 0 else 0.0)
    p = float(stats.ttest_1samp(d, 0.0).pvalue)
    return PairedTest(n, mean, ci, p, mean / sd)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the order given (None stays None and is not counted).

    A table or a gate that asks "is this worse?" of many (fault, metric) pairs at once would call about
    one in twenty of them significant by chance at p < 0.05; Holm's step-down keeps the chance of any
    false "worse" in the whole family below alpha, with no assumption about how the tests depend on each
    other (the pairs share seeds and cases, so they do). scipy has no Holm; it is this short:
    sort ascending, p_(i) * (m - i), running maximum, capped at 1."""
    indexed = sorted(((p, i) for i, p in enumerate(p_values) if p is not None), key=lambda pi: pi[0])
    m = len(indexed)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * float(p)))
        out[i] = running
    return out


# Exact enumeration of the 2^n sign assignments up to this many units; above it, this many random assignments
# from a fixed seed (the same inputs give the same p) plus the observed one.
SIGN_FLIP_EXACT_UNITS = 16
SIGN_FLIP_DRAWS = 1 << 16


@dataclass
class SignFlipTest:
    """Is the mean of paired differences above 0? The one-sided sign-flip (randomization) test: under "no
    difference" each difference is as likely to have either sign, so p is the share of the 2^n sign
    assignments whose mean is at least the observed one. Exact for any distribution, ties and zero
    differences included (a zero difference is the same under both signs); its smallest p with n units is
    2^-n, so 5 units are the fewest that can reach p < 0.05."""

    n: int
    mean_difference: float | None
    p_value: float | None  # None without a difference; 1.0 when the mean is not above 0
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean_difference": self.mean_difference, "p_value": self.p_value, "exact": self.exact,
                "test": "sign-flip (randomization) test of the paired differences, one-sided (worse)"}


def _sign_matrix(n: int):
    """Every sign assignment of n units (exact), or SIGN_FLIP_DRAWS of them from a fixed seed with the observed
    one first; the same n gives the same matrix, so it is made once."""
    import numpy as np

    if n not in _SIGNS:
        if n <= SIGN_FLIP_EXACT_UNITS:
            signs = 1 - 2 * ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1)
        else:
            signs = np.random.default_rng(0).choice((-1, 1), size=(SIGN_FLIP_DRAWS, n))
            signs = np.vstack([np.ones((1, n), dtype=signs.dtype), signs])  # the observed assignment counts
        _SIGNS[n] = signs.astype(np.float64)
    return _SIGNS[n]


_SIGNS: dict[int, Any] = {}


def sign_flip_test(differences: Sequence[float | None]) -> SignFlipTest:
    import numpy as np

    d = np.asarray(_clean(differences), dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return SignFlipTest(0, None, None, True)
    mean = float(d.mean())
    if mean <= 0:
        return SignFlipTest(n, mean, 1.0, True)
    means = _sign_matrix(n) @ d / n
    # a tolerance of rounding: an assignment whose mean equals the observed one counts as "at least"
    hits = int(np.count_nonzero(means >= mean - 1e-12 * max(1.0, float(np.abs(d).max()))))
    return SignFlipTest(n, mean, hits / means.size, n <= SIGN_FLIP_EXACT_UNITS)
