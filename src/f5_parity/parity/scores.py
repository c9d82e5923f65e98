"""The typed scores of a full run (RunReport.scores): every wav transcribed, pooled per path, the acoustic
metrics of every seed and the spread over seeds, with one JSON codec.

run.json's "scores" object is `RunScores.to_dict()`; the gate, the probes and the renderers read these
attributes. The ASR description and the acoustic tools stay dicts: they are evidence of which tool ran (its
name, version, settings), whose keys belong to the tool, not to this report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ASR_METRICS = ("wer", "cer", "cer_capped", "similarity")


@dataclass
class ScoreRow:
    """One wav of the first seed, transcribed: what it should say, what the ASR heard, and the rates."""

    case: str
    path: str
    label: str | None = None
    expected: str | None = None
    hypothesis: str | None = None
    wer: float | None = None
    cer: float | None = None
    cer_capped: float | None = None
    similarity: float | None = None
    wav: str | None = None  # relative to the run's output folder

    def value(self, metric: str) -> Any:
        return getattr(self, metric, None)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("case", "path", "label", "expected", "hypothesis", *ASR_METRICS, "wav")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScoreRow":
        return cls(**{k: d.get(k) for k in ("case", "path", "label", "expected", "hypothesis", *ASR_METRICS, "wav")})


@dataclass
class PathScore:
    """One path pooled over the cases (scoring.metrics.pool): edit rates over all words/characters,
    similarity as the mean, and the share of broken utterances."""

    wer: float | None = None
    cer: float | None = None
    cer_capped: float | None = None
    similarity: float | None = None
    broken_share: float | None = None
    n: int | None = None

    def value(self, metric: str) -> Any:
        return getattr(self, metric, None)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*ASR_METRICS, "broken_share", "n")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PathScore":
        return cls(**{k: d.get(k) for k in (*ASR_METRICS, "broken_share", "n")})


@dataclass
class AcousticRow:
    """One wav of one seed against its truth and the reference voice, with its ASR values beside."""

    case: str
    path: str
    seed: int | None
    mcd: float | None = None
    logmel: float | None = None
    speaker_similarity: float | None = None
    truth: str | None = None  # which audio was the truth ("reference", "held-out"); None when none exists
    length_ratio: float | None = None
    wav: str | None = None
    wer: float | None = None
    cer: float | None = None
    cer_capped: float | None = None
    similarity: float | None = None
    hypothesis: str | None = None

    KEYS = ("case", "path", "seed", "mcd", "logmel", "speaker_similarity", "truth", "length_ratio", "wav",
            *ASR_METRICS, "hypothesis")

    def value(self, metric: str) -> Any:
        return getattr(self, metric, None)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.KEYS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AcousticRow":
        return cls(**{k: d.get(k) for k in cls.KEYS})


@dataclass
class AcousticScores:
    tools: dict[str, Any]  # metric -> its definition, config and the tools (name, version) that computed it
    rows: list[AcousticRow] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)  # path -> which clip is its truth
    voice: str = "reference clip"

    def to_dict(self) -> dict[str, Any]:
        return {"tools": self.tools, "rows": [r.to_dict() for r in self.rows], "truth": self.truth,
                "voice": self.voice}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "AcousticScores | None":
        if not d:
            return None
        return cls(tools=dict(d.get("tools") or {}), rows=[AcousticRow.from_dict(r) for r in d.get("rows") or []],
                   truth=dict(d.get("truth") or {}), voice=d.get("voice") or "reference clip")


@dataclass
class Interval:
    """A mean with its Student-t interval (scoring.stats.interval); lo/hi None below two values."""

    mean: float | None
    lo: float | None = None
    hi: float | None = None
    half_width: float | None = None
    n: int = 0
    confidence: float | None = None
    per_seed: list[float | None] | None = None  # the values it was computed from, when kept

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("mean", "lo", "hi", "half_width", "n", "confidence")}
        if self.per_seed is not None:
            out["per_seed"] = self.per_seed
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Interval":
        d = d or {}
        return cls(mean=d.get("mean"), lo=d.get("lo"), hi=d.get("hi"), half_width=d.get("half_width"),
                   n=d.get("n") or 0, confidence=d.get("confidence"), per_seed=d.get("per_seed"))


@dataclass
class SeedGap:
    """How much worse a path is than its baseline, paired per (case, seed) ("worse" is positive for every metric),
    judged by the gate's one rule (parity.gate.GAP_RULE)."""

    against: str
    gap: float | None  # mean over the units
    interval: Interval  # Student-t 95 % over the units
    p_value: float | None = None  # one-sided sign-flip test of the units
    beyond_noise: bool | None = None  # p < GAP_ALPHA with a positive mean
    per_seed: list[float | None] = field(default_factory=list)  # one slot per seed of the run (its units' mean)
    n: int = 0  # complete (case, seed) pairs
    units: list[dict[str, Any]] = field(default_factory=list)  # {"case", "seed", "gap"} per complete pair
    dropped_units: list[list[Any]] = field(default_factory=list)  # [case, seed] either path has no value for
    dropped_seeds: list[int] = field(default_factory=list)  # seeds with no complete pair at all

    def to_dict(self) -> dict[str, Any]:
        out = {"against": self.against, "gap": self.gap, "interval": self.interval.to_dict(),
               "p_value": self.p_value, "beyond_noise": self.beyond_noise, "per_seed": self.per_seed, "n": self.n,
               "units": self.units}
        if self.dropped_units:
            out.update(dropped_units=self.dropped_units, dropped_seeds=self.dropped_seeds)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeedGap":
        return cls(against=d.get("against"), gap=d.get("gap"), interval=Interval.from_dict(d.get("interval")),
                   p_value=d.get("p_value"), beyond_noise=d.get("beyond_noise"),
                   per_seed=list(d.get("per_seed") or []), n=d.get("n") or 0, units=list(d.get("units") or []),
                   dropped_units=[list(u) for u in d.get("dropped_units") or []],
                   dropped_seeds=list(d.get("dropped_seeds") or []))


@dataclass
class SeedSpread:
    """Every path over the seeds (each seed pooled over cases) and the paired gaps the gate judges."""

    seeds: list[int]
    n_seeds: int
    paths: dict[str, dict[str, Interval]] = field(default_factory=dict)  # path -> metric -> interval
    gaps: dict[str, dict[str, SeedGap]] = field(default_factory=dict)  # path -> metric -> gap
    confidence: float = 0.95
    interval: str = ""  # how the intervals were computed, in words
    gap_rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "n_seeds": self.n_seeds, "confidence": self.confidence,
                "paths": {p: {m: i.to_dict() for m, i in ms.items()} for p, ms in self.paths.items()},
                "gaps": {p: {m: g.to_dict() for m, g in ms.items()} for p, ms in self.gaps.items()},
                "interval": self.interval, "gap_rule": self.gap_rule}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "SeedSpread | None":
        if not d:
            return None
        seeds = list(d.get("seeds") or [])
        return cls(seeds=seeds, n_seeds=int(d.get("n_seeds") or len(seeds)),
                   paths={p: {m: Interval.from_dict(i) for m, i in (ms or {}).items()}
                          for p, ms in (d.get("paths") or {}).items()},
                   gaps={p: {m: SeedGap.from_dict(g) for m, g in (ms or {}).items()}
                         for p, ms in (d.get("gaps") or {}).items()},
                   confidence=d.get("confidence", 0.95), interval=d.get("interval") or "",
                   gap_rule=d.get("gap_rule") or "")


@dataclass
class RunScores:
    """What a full run measured on its wavs."""

    asr: dict[str, Any] = field(default_factory=dict)  # the ASR that transcribed (backend, model, language, ...)
    rows: list[ScoreRow] = field(default_factory=list)  # every wav of the first seed
    pooled: dict[str, PathScore] = field(default_factory=dict)  # path -> pooled over cases
    acoustic: AcousticScores | None = None
    seeds: SeedSpread | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"asr": self.asr, "rows": [r.to_dict() for r in self.rows],
                               "pooled": {p: s.to_dict() for p, s in self.pooled.items()}}
        if self.acoustic is not None:
            out["acoustic"] = self.acoustic.to_dict()
        if self.seeds is not None:
            out["seeds"] = self.seeds.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "RunScores | None":
        if not d:
            return None
        return cls(asr=dict(d.get("asr") or {}), rows=[ScoreRow.from_dict(r) for r in d.get("rows") or []],
                   pooled={p: PathScore.from_dict(s or {}) for p, s in (d.get("pooled") or {}).items()},
                   acoustic=AcousticScores.from_dict(d.get("acoustic")), seeds=SeedSpread.from_dict(d.get("seeds")))
