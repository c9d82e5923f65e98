"""Delta debugging over factor differences (Zeller's ddmin), with every outcome kept as evidence.

Given the factors on which two specs differ and an oracle that runs a mix (the trainer spec with
some factors taken from the infer spec), find 1-minimal failure-inducing sets. A mix that cannot
be built is UNRESOLVED, never a pass. To find every independent cause, not only the first, the
found set is fixed (taken back to the trainer's values) and the search repeats until the rest passes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterable


class Outcome(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    UNRESOLVED = "unresolved"


@dataclass
class Trial:
    factors: list[str]
    outcome: Outcome
    detail: str = ""  # first divergent stage, or why it could not be built


@dataclass
class Isolation:
    culprit_sets: list[list[str]] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    remaining_unresolved: list[str] = field(default_factory=list)  # differences no run could judge

    @property
    def tests_run(self) -> int:
        return len(self.trials)

    def to_dict(self) -> dict:
        return {
            "culprit_sets": self.culprit_sets,
            "trials": [{"factors": t.factors, "outcome": t.outcome.value, "detail": t.detail} for t in self.trials],
            "tests_run": self.tests_run,
            "remaining_unresolved": self.remaining_unresolved,
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> "Isolation | None":
        """run.json's `isolation` back; None for the {} a partial report writes (nothing was isolated)."""
        if not d:
            return None
        return cls(culprit_sets=[list(s) for s in d.get("culprit_sets") or []],
                   trials=[Trial(list(t.get("factors") or []), Outcome(t.get("outcome")), t.get("detail") or "")
                           for t in d.get("trials") or []],
                   remaining_unresolved=list(d.get("remaining_unresolved") or []))


Oracle = Callable[[tuple[str, ...]], tuple[Outcome, str]]


class CachedOracle:
    def __init__(self, oracle: Oracle, order: Iterable[str]):
        self.oracle = oracle
        self.rank = {f: i for i, f in enumerate(order)}
        self.cache: dict[frozenset[str], tuple[Outcome, str]] = {}
        self.trials: list[Trial] = []

    def __call__(self, subset: Iterable[str]) -> Outcome:
        key = frozenset(subset)
        if not key:
            return Outcome.PASS  # the trainer spec against itself
        if key not in self.cache:
            ordered = tuple(sorted(key, key=lambda f: self.rank.get(f, 99)))
            self.cache[key] = self.oracle(ordered)
            self.trials.append(Trial(list(ordered), *self.cache[key]))
        return self.cache[key][0]


def _split(items: list[str], n: int) -> list[list[str]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if start < end:
            out.append(items[start:end])
        start = end
    return out


def ddmin(changes: list[str], test: Callable[[Iterable[str]], Outcome]) -> list[str]:
    """Zeller & Hildebrandt's ddmin: a 1-minimal subset of `changes` for which test() is FAIL."""
    n = 2
    while len(changes) >= 2:
        chunks = _split(changes, n)
        reduced = False
        for chunk in chunks:  # reduce to a subset
            if test(chunk) == Outcome.FAIL:
                changes, n, reduced = chunk, 2, True
                break
        if not reduced:
            for chunk in chunks:  # reduce to a complement
                complement = [c for c in changes if c not in chunk]
                if test(complement) == Outcome.FAIL:
                    changes, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(changes):
                break
            n = min(len(changes), 2 * n)
    return changes


def isolate(differing: list[str], oracle: Oracle) -> Isolation:
    """All 1-minimal culprit sets among `differing` (ordered cheapest evidence first)."""
    test = CachedOracle(oracle, differing)
    result = Isolation()
    remaining = list(differing)
    while remaining:
        outcome = test(remaining)
        if outcome == Outcome.PASS:
            break
        if outcome == Outcome.UNRESOLVED:
            # The whole mix cannot be built: judge each difference alone, cheapest first.
            alone = [f for f in remaining if test([f]) == Outcome.FAIL]
            result.culprit_sets.extend([f] for f in alone)
            result.remaining_unresolved = [f for f in remaining if f not in alone and test([f]) == Outcome.UNRESOLVED]
            break
        found = ddmin(remaining, test)
        result.culprit_sets.append(found)
        remaining = [f for f in remaining if f not in found]
    result.trials = test.trials
    return result
