"""What decides a unit's result (SweepSettings, whose digest keys the cache) and the work units of one
checkpoint: its verdict, its quality signal and, in full mode, one score per case x path x weight set x seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from f5_parity.cases.case import Case
from f5_parity.files import sha256_file
from f5_parity.paths.spec import PathSpec
from f5_parity.sweeps.discovery import WEIGHT_SETS
from f5_parity.sweeps.quality import DEFAULT_DRAWS, SIGNAL
from f5_parity.sweeps.report import SCORED_PATHS


@dataclass
class SweepSettings:
    """Everything that decides a unit's result (its digest keys the cache), plus how to run."""

    train: PathSpec  # built against one checkpoint of the run; retargeted to each
    infer: PathSpec  # as observed on that checkpoint (used where infer_predicted is None)
    cases: list[Case]
    mode: str = "fast"  # fast: verdicts only; full: also the scores
    seeds: tuple[int, ...] = (0,)
    weight_sets: tuple[str, ...] = WEIGHT_SETS  # scored where the file holds them
    tolerances: dict[str, float] | None = None
    thresholds: Any = None  # gate.Thresholds
    threshold_source: str = "defaults"
    gate: str = "best"
    device: str = "cpu"
    asr_model: str | None = None
    asr_backend: str = "faster-whisper"
    language: str = "pt"
    infer_runner: Any = None  # observe.path.InferRunner (kind, target)
    inspect_config: str | None = None
    fingerprint: Any = None
    command: str = "parity-check sweep"
    notes: list[str] = field(default_factory=list)
    # the quality signal (sweeps/quality.py): the flow-matching loss on the cases' reference clips (fit) and
    # on these held-out clips (generalisation), `quality_draws` fixed draws per clip
    held_out: list[Case] = field(default_factory=list)
    quality_draws: int = DEFAULT_DRAWS
    # the infer spec the flags predict, before any observation: given, the user's path is observed again on
    # every checkpoint (as `run` observes it on that file), so run and sweep judge a file alike
    infer_predicted: PathSpec | None = None
    # F5's own tensorboard log of the run (sweeps/training_log.py): drawn beside the flow loss, never judged,
    # so it is not part of the settings' digest
    train_logs: list[str] = field(default_factory=list)
    # (mirror_spec_key, checkpoint name) of the mirror check passed on the oldest checkpoint while the run was
    # assembled: a later checkpoint whose observed spec is the same compares its weights and time grid, and
    # takes that velocity comparison (observe/path.py weights_mirror_check); the evidence, not a setting
    mirror_reference: tuple[str, str] | None = None
    # --port-map: which stage each graph of a runtime port computes (ports/graphs.py); decides its verdicts
    port_map: dict[str, Any] | None = None

    def runner_kind(self) -> tuple[str, str | None]:
        r = self.infer_runner
        return (r.kind, r.target) if r is not None else ("infer-cli", None)

    def describe(self) -> dict[str, Any]:
        """The settings as the report and the digest see them (no file locations: copies are equal)."""
        from f5_parity import __version__

        kind, target = self.runner_kind()
        return {
            "tool_version": __version__,
            "mode": self.mode,
            "seeds": list(self.seeds),
            "weight_sets": list(self.weight_sets),
            "trainer": self.train.values,
            "trainer_unknown": sorted(f"{f}.{k}" for f, k in self.train.unknown),
            "infer": self.infer.values,
            "infer_runner": {"kind": kind, "target": target},
            "infer_predicted": self.infer_predicted.values if self.infer_predicted is not None else None,
            "cases": [{"name": c.name, "ref_audio_sha256": sha256_file(c.ref_audio), "ref_text": c.ref_text,
                       "gen_text": c.gen_text} for c in self.cases],
            "thresholds": self.thresholds.to_dict() if self.thresholds is not None else None,
            "asr": {"model": self.asr_model, "backend": self.asr_backend, "language": self.language}
            if self.mode == "full" else None,
            "inspect_config": self.inspect_config,
            **({"port_map": self.port_map} if self.port_map else {}),  # absent: digests of older caches hold
            # full mode: what a score unit holds (2: the acoustic metrics too); a cache of another format is stale
            "score_format": 2 if self.mode == "full" else None,
            "quality": {"signal": SIGNAL, "draws": self.quality_draws, "seed": self.seeds[0],
                        "held_out": [{"ref_audio_sha256": sha256_file(c.ref_audio), "text": c.ref_text}
                                     for c in self.held_out]},
            # a cached result is only as good as the f5-tts code that computed it
            "f5_tts_code": f5_code_identity(),
        }

    def digest(self, described: dict[str, Any] | None = None) -> str:
        text = json.dumps(described or self.describe(), sort_keys=True, ensure_ascii=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def f5_code_identity() -> str | None:
    """sha256 over the digests of the f5-tts functions the tool depends on (f5/environment.py)."""
    from f5_parity.f5.environment import loaded_package_dir, source_digests

    root = loaded_package_dir()
    if root is None:
        return None
    text = json.dumps(source_digests(root), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class WorkUnit:
    kind: str  # "verdict" | "quality" | "score"
    case: str | None = None
    path: str | None = None  # trainer-heldout | infer
    weights: str | None = None  # raw | ema | as-run (a custom wrapper loads what it loads)
    seed: int | None = None

    @property
    def key(self) -> str:
        if self.kind in ("verdict", "quality"):
            return self.kind
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.case or "")
        return f"score--{safe}--{self.path}--{self.weights}--s{self.seed}"


def units_for(settings: SweepSettings, weight_sets: list[str]) -> list[WorkUnit]:
    """The units of one checkpoint: its verdict first, then (full mode) its scores grouped by model."""
    units = [WorkUnit("verdict"), WorkUnit("quality")]
    if settings.mode != "full":
        return units
    kind, _ = settings.runner_kind()
    sets = [w for w in settings.weight_sets if w in weight_sets]
    for path in SCORED_PATHS:
        path_sets = ["as-run"] if path == "infer" and kind == "custom" else sets
        for weights in path_sets:
            for case in settings.cases:
                for seed in settings.seeds:
                    units.append(WorkUnit("score", case.name, path, weights, seed))
    return units


@dataclass
class PlannedCheckpoint:
    path: str
    name: str
    update: int | None
    sha256: str
    bytes: int
    format: str
    weight_sets: list[str]
    pending: list[WorkUnit]
    error: str | None = None  # the file cannot be opened (truncated, foreign): reported, retried next run
