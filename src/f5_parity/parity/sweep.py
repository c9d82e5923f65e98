"""Sweep a training run: every checkpoint through the same parity run, cached, resumable, sharded.

Work units: per checkpoint one *verdict* (the fast parity run against the user's infer settings, with the
inspect probes and the gate: parity/pipeline.run_pipeline) and, in full mode, one *score* per
case x path (trainer-heldout, infer) x weight set (raw, ema: those the file holds) x seed: a generation
of the held-out text scored by the ASR.

Cost rules: a checkpoint's units all run in one process, so its model is loaded once per process (and
reused for every case, path and seed); the ASR is loaded once per process; checkpoints go newest first,
so the newest verdict is the first result.

Scale-out (accelerate): the processes `accelerate launch` or `torchrun` started share the work through
accelerate's PartialState; each round gives every process one checkpoint (split_between_processes), the
results are gathered on the main process (gather_object), and only the main process writes: the cache,
sweep.json (atomically, after every round), the wavs. Every unit is seeded on its own, so what one
process computes does not depend on what it computed before: 1 or N processes give the same numbers.

Cache: out/cache/<tool version>/<settings digest>/<checkpoint sha256>/<unit>.json. Re-running computes only
units without a file there: new checkpoints, or all after a settings change; an interrupted sweep resumes.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from f5_parity.cases.case import Case
from f5_parity.errors import InputError
from f5_parity.files import sha256_file, write_json_atomic
from f5_parity.parity.sweep_report import (SCORED_PATHS, SweepReport, breaks, evaluate_sweep_gate,
                                           pool_rows, quality_break, quality_breaks, recommend,
                                           score_key, sig, why_no_recommendation)
from f5_parity.parity.quality import DEFAULT_DRAWS, SIGNAL, compute_quality, quality_row
from f5_parity.paths.spec import PathSpec

Progress = Callable[[str, float | None], None]
CHECKPOINT_SUFFIXES = (".pt", ".safetensors", ".pth", ".ckpt")
_NUMBERED = re.compile(r"^model_(\d+)$")
WEIGHT_SETS = ("raw", "ema")


# --- discovery ---------------------------------------------------------------------------------------------


def _candidate(p: Path) -> bool:
    """A checkpoint file, not a partial one: hidden temporaries (.x.tmp) and *.tmp/*.part are skipped."""
    return p.is_file() and p.suffix in CHECKPOINT_SUFFIXES and not p.name.startswith(".")


def discover_checkpoints(sources: list[str | Path]) -> list[Path]:
    """F5's ckpts/<exp>/ folder (model_<update>.pt, model_last.pt, pruned .pt/.safetensors), globs, or files."""
    found: dict[str, Path] = {}
    for source in sources:
        text = str(source)
        if any(ch in text for ch in "*?["):
            paths = [Path(p) for p in sorted(glob.glob(text))]
        else:
            p = Path(text)
            if p.is_dir():
                paths = sorted(p.iterdir())
            elif p.is_file():
                if p.suffix not in CHECKPOINT_SUFFIXES:
                    raise InputError(f"{p} is not a checkpoint (.pt or .safetensors)",
                                     "give a checkpoints folder, a glob, or checkpoint files")
                paths = [p]
            else:
                raise InputError(f"{p}: no such file or folder", "give a checkpoints folder (ckpts/<exp>/), a glob "
                                 "in quotes ('ckpts/model_*.pt'), or checkpoint files")
        for path in paths:
            if _candidate(path):
                found[str(path.resolve())] = path
    return list(found.values())


def update_from_name(path: Path) -> int | None:
    m = _NUMBERED.match(path.stem)
    return int(m.group(1)) if m else None


@dataclass
class FileState:
    """What a poll saw of a file; a file is settled when two polls agree (the trainer is not writing it)."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "FileState":
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns)


class FileChanging(Exception):
    """The file changed while it was hashed (a trainer writing it): left for the next poll."""


class HashCache:
    """sha256 per (path, size, mtime): a re-run or a watch poll does not re-read unchanged files."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, Any] = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}

    def sha256(self, path: Path) -> str:
        state = FileState.of(path)
        key = str(path.resolve())
        entry = self.data.get(key)
        if entry and entry["size"] == state.size and entry["mtime_ns"] == state.mtime_ns:
            return entry["sha256"]
        digest = sha256_file(path)
        if FileState.of(path) != state:
            raise FileChanging(f"{path} changed while it was read")
        self.data[key] = {"size": state.size, "mtime_ns": state.mtime_ns, "sha256": digest}
        return digest

    def save(self) -> None:
        if self.path:
            write_json_atomic(self.path, self.data)


# --- settings and units ------------------------------------------------------------------------------------


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
    # the quality signal (parity/quality.py): the flow-matching loss on the cases' reference clips (fit) and
    # on these held-out clips (generalisation), `quality_draws` fixed draws per clip
    held_out: list[Case] = field(default_factory=list)
    quality_draws: int = DEFAULT_DRAWS
    # the infer spec the flags predict, before any observation: given, the user's path is observed again on
    # every checkpoint (as `run` observes it on that file), so run and sweep judge a file alike
    infer_predicted: PathSpec | None = None
    # F5's own tensorboard log of the run (parity/training_log.py): drawn beside the flow loss, never judged,
    # so it is not part of the settings' digest
    train_logs: list[str] = field(default_factory=list)
    # (mirror_spec_key, checkpoint name) of the mirror check passed on the oldest checkpoint while the run was
    # assembled: a later checkpoint whose observed spec is the same compares its weights and time grid, and
    # takes that velocity comparison (observe/path.py weights_mirror_check); the evidence, not a setting
    mirror_reference: tuple[str, str] | None = None

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


# --- processes ---------------------------------------------------------------------------------------------


class Processes:
    """The processes sharing a sweep: accelerate's PartialState (torchrun / accelerate launch), or one."""

    def __init__(self, state=None):
        self.state = state

    @classmethod
    def from_accelerate(cls, cpu: bool) -> "Processes":
        from accelerate import PartialState

        return cls(PartialState(cpu=cpu))

    @property
    def index(self) -> int:
        return self.state.process_index if self.state else 0

    @property
    def count(self) -> int:
        return self.state.num_processes if self.state else 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def device(self, requested: str) -> str:
        """Each process its own accelerator (cuda:<local rank>) when the user asked for cuda."""
        if self.state is not None and requested.startswith("cuda") and self.count > 1:
            return str(self.state.device)
        return requested

    def share(self, items: list) -> list:
        if self.count == 1:
            return list(items)
        with self.state.split_between_processes(list(items)) as mine:
            return list(mine)

    def gather(self, items: list) -> list:
        if self.count == 1:
            return list(items)
        from accelerate.utils import gather_object

        return list(gather_object(list(items)))

    def broadcast(self, obj: Any) -> Any:
        if self.count == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj if self.is_main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]

    def main_first(self):
        import contextlib

        return self.state.main_process_first() if self.count > 1 else contextlib.nullcontext()

    def close(self) -> None:
        if self.count > 1:
            import torch.distributed as dist

            self.state.wait_for_everyone()
            if dist.is_initialized():
                dist.destroy_process_group()


# --- the engine --------------------------------------------------------------------------------------------


@dataclass
class ObservedPath:
    """The user's path as observed on one checkpoint (observe/path.py observe_infer_path, fast mode): the
    report's observation, the spec it derived (None when the path failed), the case it generated, and the
    runner's summary of the run."""

    observation: Any  # observe.path.InferObservation
    spec: PathSpec | None
    case: Case
    runner_observed: list[dict[str, Any]]


class Sweep:
    """One sweep over a run's checkpoints into an output folder (see the module docstring)."""

    def __init__(self, sources: list[str | Path], settings: SweepSettings, out_dir: str | Path, *,
                 processes: Processes | None = None, progress: Progress | None = None,
                 on_report: Callable[[SweepReport], None] | None = None,
                 observed: dict[str, ObservedPath] | None = None):
        self.sources = [str(s) for s in sources]
        # checkpoint path -> the user's path already observed on it by this process (the oldest checkpoint,
        # observed while the run was assembled): its verdict takes that observation, once
        self._observed = dict(observed or {})
        self.settings = settings
        self.out = Path(out_dir)
        self.procs = processes or Processes()
        self.say = progress or (lambda what, frac=None: None)
        self.on_report = on_report
        self.described = settings.describe()
        self.digest = settings.digest(self.described)
        from f5_parity import __version__

        # verdicts and scores do not depend on the quality signal's draws or held-out clips: a sweep that
        # changes only those (--quality-draws, --held-out) reuses them; the quality unit has its own key below
        units = {k: v for k, v in self.described.items() if k != "quality"}
        self.cache_root = self.out / "cache" / __version__ / settings.digest(units)[:16]
        # the quality unit depends on the trainer's side, the clips and the draws only (not on the infer path
        # or the gate): keyed by those, a sweep of the same run with other infer settings reuses it
        q = {k: self.described[k] for k in ("tool_version", "trainer", "trainer_unknown", "cases", "quality",
                                             "f5_tts_code")}
        self.quality_root = self.out / "cache" / __version__ / f"quality-{settings.digest(q)[:16]}"
        self.hashes = HashCache(self.out / "cache" / "sha256.json" if self.procs.is_main else None)
        self.device = self.procs.device(settings.device)
        self.units_run = 0  # computed by this process
        self.units_cached = 0  # found in the cache (main)
        self.units_run_total = 0  # computed by all processes (main, after each gather)
        self.started = time.perf_counter()
        self._asr = None
        self.report: SweepReport | None = None
        self._seconds: dict[str, float] = {}
        self._unit_seconds: dict[str, dict[str, float]] = {}  # checkpoint -> unit -> seconds (computed this run)
        self.skip_unreadable = False
        self._training_log: tuple[Any, dict[str, Any] | None] | None = None  # (the files' state, what was read)
        self._acoustic = None  # scoring.acoustic.AcousticScorer, made on the first score unit

    # -- cache --------------------------------------------------------------------------------------------

    def _unit_file(self, sha: str, unit: WorkUnit | str) -> Path:
        key = unit if isinstance(unit, str) else unit.key
        return (self.quality_root if key == "quality" else self.cache_root) / sha / f"{key}.json"

    def cached(self, sha: str, unit: WorkUnit) -> dict[str, Any] | None:
        p = self._unit_file(sha, unit)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a damaged entry is recomputed, never trusted
            return None

    # -- planning (main process) ----------------------------------------------------------------------------

    def plan(self, paths: list[Path]) -> list[PlannedCheckpoint]:
        """Every checkpoint with its pending units, newest first (main process only)."""
        from f5_parity.checkpoint.file import open_checkpoint

        planned = []
        for p in paths:
            try:
                try:
                    sha = self.hashes.sha256(p)
                except FileChanging:
                    continue
                with open_checkpoint(p) as ck:
                    update = ck.update if ck.update is not None else update_from_name(p)
                    sets = [s for s in WEIGHT_SETS if s in ck.weight_sets()]
                    fmt = ck.format
                entry = PlannedCheckpoint(str(p), p.name, update, sha, p.stat().st_size, fmt, sets, [])
            except InputError as exc:
                if self.skip_unreadable:  # --watch: a file being written is read again at the next poll
                    continue
                planned.append(PlannedCheckpoint(str(p), p.name, update_from_name(p), "", 0, "?", [], [],
                                                 error=exc.line()))
                continue
            for unit in units_for(self.settings, sets):
                if self.cached(sha, unit) is None:
                    entry.pending.append(unit)
                else:
                    self.units_cached += 1
            planned.append(entry)
        self.hashes.save()
        planned.sort(key=lambda e: (e.update is None, e.update if e.update is not None else 0, e.name),
                     reverse=True)  # newest first; files without an update (pruned exports) count as newest
        return planned

    # -- computing (every process) --------------------------------------------------------------------------

    def compute(self, entry: PlannedCheckpoint) -> list[dict[str, Any]]:
        """Every pending unit of one checkpoint in this process; one model load per weight set."""
        from f5_parity.paths.stages import ModelPool

        pool = ModelPool(self.device)
        infer_models: dict[str, Any] = {}
        out = []
        start = time.perf_counter()
        try:
            for i, unit in enumerate(entry.pending):
                self.say(f"{entry.name}: {unit.key}", i / max(1, len(entry.pending)))
                t0 = time.perf_counter()
                try:
                    if unit.kind == "verdict":
                        result = self._verdict(entry, pool)
                    elif unit.kind == "quality":
                        result = self._quality(entry, pool)
                    else:
                        result = self._score(entry, unit, pool, infer_models)
                except InputError as exc:
                    result = {"error": exc.line()}
                except Exception as exc:  # noqa: BLE001 - one unit's failure is its result, not the sweep's end
                    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
                    result = {"error": f"{type(exc).__name__}: {text[:400]}"}
                self.units_run += 1
                out.append({"sha256": entry.sha256, "name": entry.name, "unit": unit.key, "result": result,
                            "seconds": time.perf_counter() - t0, "wav": result.pop("_wav", None)})
        finally:
            del pool, infer_models
        self._seconds[entry.name] = time.perf_counter() - start
        return out

    def _retarget(self, spec: PathSpec, entry: PlannedCheckpoint) -> PathSpec:
        return spec.with_value("weights", locator={"checkpoint": entry.path})

    def _verdict(self, entry: PlannedCheckpoint, pool) -> dict[str, Any]:
        from f5_parity.parity.pipeline import PipelineOptions, run_pipeline
        from f5_parity.parity.session import ParitySession

        import dataclasses

        from f5_parity.observe.path import InferRunner, observe_infer_path

        s = self.settings
        train, infer = self._retarget(s.train, entry), self._retarget(s.infer, entry)
        runner = s.infer_runner or InferRunner()
        runner = dataclasses.replace(runner, observed=[])  # this checkpoint's observations only
        cases, observation, failure = s.cases, None, None
        scratch = Path(tempfile.mkdtemp(prefix="f5-parity-sweep-"))  # run_pipeline's folder; nothing kept
        try:
            if s.infer_predicted is not None:  # the user's path observed on this very file (fast: to its first sample)
                predicted = self._retarget(s.infer_predicted, entry)
                done = self._observed.pop(entry.path, None)
                if done is not None:  # observed on this file, with these inputs, while the run was assembled
                    observation, observed, case = done.observation, done.spec, done.case
                    runner.observed.extend(done.runner_observed)
                else:
                    observation, observed, _, case = observe_infer_path(
                        runner, predicted, train, s.cases[0], mode="fast", seed=s.seeds[0], device=self.device,
                        workdir=scratch / "observed", pool=pool, mirror_reference=s.mirror_reference)
                infer, failure = observed or predicted, observation.failure
                if runner.kind == "script" and observed is not None:
                    cases = [case]
            session = ParitySession(train, infer, cases, mode="fast", device=self.device, tolerances=s.tolerances,
                                    pool=pool, infer_failure=failure,
                                    unreconciled=observation.unreconciled() if observation is not None else None,
                                    path_kind=runner.kind)
            if observation is not None:  # as `run` assembles its session (engine/assemble.py)
                session.notes.extend(observation.notes)
                session.path_warnings.extend(observation.path_warnings(cases[0].name, seed=s.seeds[0], mode=s.mode,
                                                                       seeds=len(s.seeds)))
            opts = PipelineOptions(out_dir=scratch, command=s.command, seed=s.seeds[0], device=self.device,
                                   thresholds=s.thresholds, threshold_source=s.threshold_source,
                                   inspect_config=s.inspect_config, infer_runner=runner,
                                   fingerprint=s.fingerprint, observation=observation)
            report = run_pipeline(session, entry.path, opts)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return {"run": report.to_json()}

    def _quality(self, entry: PlannedCheckpoint, pool) -> dict[str, Any]:
        """The flow-matching loss of every weight set the file holds, on the trainer's settings (the model
        the Trainer optimised), fixed draws: parity/quality.py."""
        s = self.settings
        return compute_quality(self._retarget(s.train, entry), s.cases, s.held_out, entry.weight_sets, pool,
                               draws=s.quality_draws, seed=s.seeds[0])

    def _acoustic_scorer(self):
        if self._acoustic is None:
            from f5_parity.scoring.acoustic import AcousticScorer

            self._acoustic = AcousticScorer()  # each reference voice embedded once per process
        return self._acoustic

    def _asr_model(self):
        if self._asr is None:
            from f5_parity.scoring.asr import load_asr

            s = self.settings
            self._asr = load_asr(s.asr_model, backend=s.asr_backend, language=s.language, device=self.device)
        return self._asr

    def _score(self, entry: PlannedCheckpoint, unit: WorkUnit, pool, infer_models: dict) -> dict[str, Any]:
        import torch

        from f5_parity.scoring.audio import Audio
        from f5_parity.scoring.metrics import score_wav

        s = self.settings
        case = next(c for c in s.cases if c.name == unit.case)
        observed = None
        if unit.path == "trainer-heldout":
            spec = self._retarget(s.train, entry).with_value("weights", set=unit.weights)
            wav, sr = trainer_heldout(spec, case, pool, unit.seed, self.device)
        else:
            from f5_parity.observe.path import InferRunner, observe_generation
            from f5_parity.paths.infer import load_infer_model, load_infer_vocoder

            runner = s.infer_runner or InferRunner()
            spec = self._retarget(s.infer, entry).with_value("sampler", seed=unit.seed)
            if unit.weights != "as-run":
                spec = spec.with_value("weights", set=unit.weights)
            model = vocoder = None
            if runner.kind == "infer-cli":
                if unit.weights not in infer_models:  # load_model once per weight set and process
                    infer_models[unit.weights] = (load_infer_model(spec, self.device),
                                                  load_infer_vocoder(spec, self.device))
                model, vocoder = infer_models[unit.weights]
            obs, gen = observe_generation(runner, spec, case, seed=unit.seed, device=self.device,
                                          gen_text=case.gen_text, model=model, vocoder=vocoder)
            if gen is None:
                err = obs.error or {}
                raise RuntimeError(f"the infer path failed: {err.get('type', '')}: {err.get('message', '')}".strip())
            wav, sr = gen.wav, gen.sample_rate
            calls = [c.summary() for c in obs.samples]
            observed = {"sample_calls": len(calls), **({k: calls[0].get(k) for k in ("dtype", "steps")}
                                                       if calls else {})}
        import numpy as np

        samples = np.asarray(wav.detach().float().cpu().numpy() if torch.is_tensor(wav) else wav,
                             dtype=np.float32).reshape(-1)
        scored = score_wav(Audio(samples, int(sr)), case.gen_text, self._asr_model())
        from f5_parity.parity.seeds import truth_of

        truth, truth_name = truth_of(case, "infer")  # held-out text: its truth is the case's held-out clip, if any
        acoustic = self._acoustic_scorer().score_samples(samples, int(sr), voice=case.ref_audio, truth=truth,
                                                         truth_name=truth_name)
        result = {
            "case": case.name, "path": unit.path, "weights": unit.weights, "seed": unit.seed,
            "hypothesis": scored.hypothesis, "wer": sig(scored.wer), "cer": sig(scored.cer),
            "similarity": sig(scored.similarity), "words": scored.words.to_dict(), "chars": scored.chars.to_dict(),
            "seconds_audio": sig(len(samples) / int(sr), 4),
            "mcd": sig(acoustic.mcd), "logmel": sig(acoustic.logmel),
            "speaker_similarity": sig(acoustic.speaker_similarity), "truth": acoustic.truth,
            "_wav": (samples, int(sr)),
        }
        if observed is not None:
            result["observed"] = observed
        return result

    # -- main: collect, write, judge ------------------------------------------------------------------------

    def _store(self, gathered: list[dict[str, Any]]) -> None:
        from f5_parity.scoring.audio import write_wav

        for item in gathered:
            self._unit_seconds.setdefault(item["name"], {})[item["unit"]] = round(item["seconds"], 2)
            result = dict(item["result"])
            if item.get("wav") is not None and "error" not in result:
                samples, sr = item["wav"]
                rel = Path("wavs") / Path(item["name"]).stem / f"{item['unit'].removeprefix('score--')}.wav"
                write_wav(self.out / rel, samples, sr)
                result["wav"] = str(rel)
            if "error" in result:
                continue  # a failed unit is reported this run and retried the next: never cached
            write_json_atomic(self._unit_file(item["sha256"], item["unit"]), result)
            if item["unit"] == "verdict":  # the checkpoint's whole run.json, for a closer look
                write_json_atomic(self.out / run_json_path(item["name"]), result["run"])
        self.units_run_total += len(gathered)

    def _errors_of(self, gathered: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(g["sha256"], g["unit"]): g["result"] for g in gathered if "error" in g["result"]}

    def training_log(self, updates: list[int]) -> dict[str, Any] | None:
        """F5's own training loss (tensorboard), read again only when its files changed (a live run)."""
        from f5_parity.parity.training_log import at_checkpoints, event_files, read_training_loss

        logs = self.settings.train_logs
        if not logs:
            return None
        state = [(str(f), f.stat().st_size) for p in logs for f in event_files(p)]
        if self._training_log is None or self._training_log[0] != state:
            read = read_training_loss(logs[0])
            if len(logs) > 1:
                read["note"] = (f"{len(logs)} tensorboard runs found beside the checkpoints; drawn: {logs[0]} "
                                "(give --train-log to choose)")
            self._training_log = (state, read)
        log = dict(self._training_log[1])
        if "series" in log:
            log["at_checkpoints"] = {str(u): v for u, v in at_checkpoints(log, updates).items()}
        return log

    def build_report(self, planned: list[PlannedCheckpoint], failed: dict[tuple[str, str], dict]) -> SweepReport:
        s = self.settings
        checkpoints = []
        for entry in planned:
            results = {}
            if not entry.error:
                for unit in units_for(s, entry.weight_sets):
                    r = self.cached(entry.sha256, unit) or failed.get((entry.sha256, unit.key))
                    if r is not None:
                        results[unit.key] = r
            checkpoints.append(checkpoint_result(entry, results, s))
        checkpoints.sort(key=lambda c: (c["update"] is None, c["update"] or 0, c["name"]))
        infer_set = s.infer.value("weights")["set"]
        trainer_set = s.train.value("weights")["set"]
        rec = recommend(checkpoints, infer_set=infer_set, trainer_set=trainer_set)
        by_set = quality_breaks(checkpoints)
        first, parity_breaks, check_failures = breaks(checkpoints)
        gate = evaluate_sweep_gate(checkpoints, rec, s.gate) if checkpoints else {"mode": s.gate, "passed": False,
                                                                                  "checks": []}
        return SweepReport(
            sources=self.sources, settings={"digest": self.digest, **self.described}, checkpoints=checkpoints,
            recommendation=rec, first_bad=first, parity_breaks=parity_breaks, check_failures=check_failures, gate=gate,
            quality_break=quality_break(by_set, rec, infer_set), quality_breaks=by_set,
            no_recommendation=None if rec else why_no_recommendation(checkpoints, infer_set=infer_set),
            verdict="pass" if gate["passed"] else "fail", notes=list(s.notes),
            training_log=self.training_log([c["update"] for c in checkpoints if c["update"] is not None]),
            execution={"processes": self.procs.count, "units_computed": self.units_run_total,
                       "units_from_cache": self.units_cached, "seconds": round(time.perf_counter() - self.started, 2),
                       "seconds_per_checkpoint": {k: round(v, 2) for k, v in self._seconds.items()},
                       "seconds_per_unit": self._unit_seconds},
        )

    def _publish(self, planned, failed) -> SweepReport:
        self.report = self.build_report(planned, failed)
        write_json_atomic(self.out / "sweep.json", self.report.to_json())
        if self.on_report:
            self.on_report(self.report)
        return self.report

    # -- the loop ---------------------------------------------------------------------------------------------

    def run_once(self, paths: list[Path] | None = None) -> SweepReport | None:
        """Plan (main), share the pending checkpoints round by round, gather, write. Every process calls it;
        the report comes back on the main process (None elsewhere)."""
        planned = None
        if self.procs.is_main:
            self.say("hashing and planning", None)
            planned = self.plan(paths if paths is not None else discover_checkpoints(self.sources))
        planned = self.procs.broadcast(planned)
        work = [e for e in planned if e.pending and not e.error]
        failed: dict[tuple[str, str], dict] = {}
        world = self.procs.count
        for start in range(0, len(work), world):
            mine = self.procs.share(work[start:start + world])
            results = [r for e in mine for r in self.compute(e)]
            gathered = self.procs.gather(results)
            timings = self.procs.gather([self._seconds])
            if self.procs.is_main:
                for t in timings:
                    self._seconds.update(t)
                self._store(gathered)
                failed.update(self._errors_of(gathered))
                self._publish(planned, failed)
        if self.procs.is_main:
            return self._publish(planned, failed)
        return None

    def watch(self, *, poll_seconds: float, timeout_seconds: float, sleep=None) -> SweepReport | None:
        """Follow a live training folder: sweep every checkpoint once its size and mtime held still across
        two polls (F5's Trainer writes with torch.save in place); stop once nothing in the folder changed for
        `timeout_seconds`. A file still being written is a change at every poll, so the time spent sweeping
        between polls can never end the watch before a checkpoint being written has settled. Every process
        calls it; the main process decides and tells the others."""
        sleep = sleep or time.sleep
        self.skip_unreadable = True
        seen: dict[str, FileState] = {}  # path -> its state at the last poll
        done: set[tuple[str, int, int]] = set()  # (path, size, mtime) already swept
        last_change = time.monotonic()
        report = None
        while True:
            ready, stop = None, False
            if self.procs.is_main:
                settled, changed = [], False
                for p in discover_checkpoints(self.sources):
                    try:
                        state = FileState.of(p)
                    except FileNotFoundError:
                        continue
                    key = str(p.resolve())
                    if seen.get(key) == state:
                        settled.append((p, (key, state.size, state.mtime_ns)))
                    else:
                        changed = True  # new, or still being written
                    seen[key] = state
                fresh = [mark for _, mark in settled if mark not in done]
                if fresh or changed:
                    last_change = time.monotonic()
                if fresh:
                    ready = [p for p, _ in settled]
                    done.update(fresh)
                stop = not fresh and not changed and time.monotonic() - last_change > timeout_seconds
            ready, stop = self.procs.broadcast((ready, stop))
            if ready:
                report = self.run_once(ready) or report
            if stop:
                break
            sleep(poll_seconds)
        if self.procs.is_main and report is None:
            report = self._publish([], {})
        return report


# --- one checkpoint's results, summarized ------------------------------------------------------------------


def checkpoint_result(entry: PlannedCheckpoint, results: dict[str, dict[str, Any]],
                      settings: SweepSettings) -> dict[str, Any]:
    """A checkpoint's row of the report, from its units' results (cached or just computed)."""
    out: dict[str, Any] = {"name": entry.name, "path": entry.path, "update": entry.update, "sha256": entry.sha256,
                           "bytes": entry.bytes, "format": entry.format, "weight_sets": entry.weight_sets}
    if entry.error:
        return {**out, "status": "error", "error": entry.error, "verdict": "fail"}
    quality = quality_row(results.get("quality"))
    if quality is not None:
        out["quality"] = quality
    verdict = results.get("verdict")
    if verdict is None:
        return {**out, "status": "pending", "verdict": "pending"}
    if "error" in verdict:
        return {**out, "status": "error", "error": verdict["error"], "verdict": "fail"}
    run = verdict["run"]
    probes = {p["probe"]: p for p in run.get("probes") or []}
    ema = (probes.get("ckpt.ema_health") or {}).get("metrics") or {}
    failed = []
    for check in (run.get("gate") or {}).get("checks") or []:
        if check.get("passed"):
            continue
        name = check["name"]
        probe = probes.get(name.removeprefix("probe:")) if name.startswith("probe:") else None
        failed.append({"name": name, "summary": probe["summary"] if probe else f"{name}: {check.get('value')}",
                       "fix": probe.get("fix") if probe else None})
    factors = run.get("factors") or {}
    row = {
        **out,
        "status": "done",
        "verdict": run["verdict"],
        "parity_verdict": run["parity_verdict"],
        "culprits": run.get("culprits") or [],
        "fixes": {f: factors[f]["fix"] for f in run.get("culprits") or [] if factors.get(f, {}).get("fix")},
        "failed_checks": failed,
        "first_divergence": run.get("first_divergence") or {},
        "velocity_rel_l2": _velocity(run),
        "ema": {"step": ema.get("ema_step"), "share": sig(ema.get("share")), "rel_l2": sig(ema.get("rel_l2")),
                "summary": (probes.get("ckpt.ema_health") or {}).get("summary")},
        "run": run_json_path(entry.name),
    }
    if settings.mode == "full":
        row["scores"] = _scores(results)
        _gate_with_scores(row, run, settings)
    return row


def run_json_path(name: str) -> str:
    return f"checkpoints/{name}.run.json"


def _velocity(run: dict[str, Any]) -> float | None:
    """The velocity stage's relative L2 (infer vs trainer) on the first case: the fast verdict's key number."""
    for comps in (run.get("stages") or {}).values():
        for c in comps:
            if c.get("stage") == "velocity":
                return sig(c.get("rel_l2"))
        break
    return None


def _scores(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {}
    for key, r in results.items():
        if key in ("verdict", "quality"):
            continue
        _, path, weights, _ = key.rsplit("--", 3)
        by.setdefault(score_key(path, weights), []).append(r)
    out = {}
    for k in sorted(by):
        rows = sorted(by[k], key=lambda r: (r.get("case") or "", r.get("seed") or 0))
        out[k] = {**pool_rows(rows), "over_seeds": over_seeds(rows),
                  "rows": [{x: r.get(x) for x in ("case", "seed", "hypothesis", "cer", "wer", "similarity", "mcd",
                                                  "logmel", "speaker_similarity", "truth", "wav", "observed", "error")
                            if r.get(x) is not None} for r in rows]}
    return out


SEED_SCORE_METRICS = ("wer", "cer", "similarity", "mcd", "logmel", "speaker_similarity")


def over_seeds(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric pooled over the cases of one seed (ASR as pool_rows pools; acoustic as the case mean), then
    its mean and Student-t 95 % interval over the seeds: the spread a new noise draw would give."""
    from f5_parity.scoring.stats import interval

    seeds = sorted({r["seed"] for r in rows if "error" not in r and r.get("seed") is not None})
    per_seed: dict[str, list[float | None]] = {m: [] for m in SEED_SCORE_METRICS}
    for seed in seeds:
        mine = [r for r in rows if r.get("seed") == seed and "error" not in r]
        pooled = pool_rows(mine)
        for m in SEED_SCORE_METRICS:
            if m in ("wer", "cer", "similarity"):
                per_seed[m].append(pooled.get(m))
            else:
                vals = [r[m] for r in mine if isinstance(r.get(m), (int, float))]
                per_seed[m].append(sum(vals) / len(vals) if vals else None)
    return {"seeds": seeds, **{m: {**interval(v), "per_seed": v} for m, v in per_seed.items()
                                if any(x is not None for x in v)}}


def _gate_with_scores(row: dict[str, Any], run: dict[str, Any], settings: SweepSettings) -> None:
    """The run's gate again, now with the sweep's scores: the trainer's set on the trainer path, the user's
    set on the infer path (the pairs `run --mode full` gates)."""
    from f5_parity.parity.gate import evaluate_gate
    from f5_parity.parity.scores import RunScores
    from f5_parity.results import ProbeResult

    scores = row.get("scores") or {}
    trainer = scores.get(score_key("trainer-heldout", settings.train.value("weights")["set"]))
    infer_set = ("as-run" if settings.runner_kind()[0] in ("custom", "script")
                 else settings.infer.value("weights")["set"])
    infer = scores.get(score_key("infer", infer_set))
    pooled = {k: v for k, v in (("trainer-heldout", trainer), ("infer", infer)) if v and v.get("n")}
    if settings.thresholds is None or not pooled:
        return
    probes = [ProbeResult.from_dict(p) for p in run.get("probes") or []]
    gate = evaluate_gate(run["parity_verdict"], probes, RunScores.from_dict({"pooled": pooled}), settings.thresholds,
                         source=settings.threshold_source)
    row["verdict"] = "pass" if run["parity_verdict"] == "pass" and gate["passed"] else "fail"
    known = {f["name"] for f in row["failed_checks"]}
    for check in gate["checks"]:
        name = check["name"] if check.get("path") is None else f"{check['name']}[{check['path']}]"
        if not check["passed"] and name not in known and check["name"] not in known:
            # kind "score": a quality threshold, never a parity culprit (sweep_report.py)
            row["failed_checks"].append({"name": name, "kind": "score", "summary": f"{name} = {check.get('value')} "
                                         f"(limit {check.get('op')} {check.get('threshold')})", "fix": None})


# --- the trainer's model on the held-out text --------------------------------------------------------------


def trainer_heldout(train: PathSpec, case: Case, pool, seed: int, device: str):
    """The trainer's model and settings on the held-out text (the copy task hides duration faults): the
    trainer-heldout path of parity/generate.py generate_case, alone, so one score costs one generation."""
    import torch
    from f5_tts.model.utils import convert_char_to_pinyin

    from f5_parity.paths.stages import autocast_context, dataset_text
    from f5_parity.paths.trainer import dataset_item

    batch_mel, lengths, text_inputs = dataset_item(str(case.ref_audio), dataset_text(train, case), train.value("mel"))
    model = pool.model(train)
    vocoder = pool.vocoder(train)
    ref_len = int(lengths[0])
    held = convert_char_to_pinyin([case.gen_text])[0]
    ref_bytes = max(1, len(case.ref_text.encode("utf-8")))
    duration = ref_len + int(ref_len * len(case.gen_text.encode("utf-8")) / ref_bytes)
    sampler = train.value("sampler")
    torch.manual_seed(seed)
    with torch.inference_mode(), autocast_context(train, device):
        generated, _ = model.sample(cond=batch_mel.permute(0, 2, 1)[:, :ref_len].to(device),
                                    text=[text_inputs[0] + [" "] + held], duration=duration,
                                    steps=int(sampler["nfe"]), cfg_strength=sampler["cfg"],
                                    sway_sampling_coef=sampler["sway"])
        mel = generated.float()[:, ref_len:, :].permute(0, 2, 1)
        wav = vocoder.decode(mel) if hasattr(vocoder, "decode") else vocoder(mel).squeeze(0)
    return wav, int(train.value("mel")["target_sample_rate"])
