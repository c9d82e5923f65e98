"""The Sweep: one sweep over a run's checkpoints into an output folder, planned, cached, shared between
processes, and published after every round (the package docstring says how).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from f5_parity.cases.case import Case
from f5_parity.errors import InputError
from f5_parity.files import write_json_atomic
from f5_parity.paths.spec import PathSpec
from f5_parity.scoring.stats import sig
from f5_parity.sweeps.discovery import (WEIGHT_SETS, FileChanging, FileState, HashCache, Progress,
                                       discover_checkpoints, update_from_name)
from f5_parity.sweeps.heldout import trainer_heldout
from f5_parity.sweeps.processes import Processes
from f5_parity.sweeps.quality import compute_quality
from f5_parity.sweeps.report import (SweepGate, SweepReport, breaks, evaluate_sweep_gate, quality_break,
                                     quality_breaks, recommend, why_no_recommendation)
from f5_parity.sweeps.results import checkpoint_result, run_json_path
from f5_parity.sweeps.units import PlannedCheckpoint, SweepSettings, WorkUnit, units_for


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
                        workdir=scratch / "observed", pool=pool, mirror_reference=s.mirror_reference,
                        tolerances=s.tolerances, port_map=s.port_map)
                infer, failure = observed or (train if observation.port is not None else predicted), observation.failure
                if runner.kind == "script" and observed is not None:
                    cases = [case]
            session = ParitySession(train, infer, cases, mode="fast", device=self.device, tolerances=s.tolerances,
                                    pool=pool, infer_failure=failure,
                                    unreconciled=observation.unreconciled() if observation is not None else None,
                                    path_kind=runner.kind, port=observation.port if observation is not None else None)
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
        the Trainer optimised), fixed draws: sweeps/quality.py."""
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
        from f5_parity.sweeps.training_log import at_checkpoints, event_files, read_training_loss

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
        checkpoints.sort(key=lambda c: (c.update is None, c.update or 0, c.name))
        infer_set = s.infer.value("weights")["set"]
        trainer_set = s.train.value("weights")["set"]
        rec = recommend(checkpoints, infer_set=infer_set, trainer_set=trainer_set)
        by_set = quality_breaks(checkpoints)
        first, parity_breaks, check_failures = breaks(checkpoints)
        gate = evaluate_sweep_gate(checkpoints, rec, s.gate) if checkpoints else SweepGate(s.gate, False)
        return SweepReport(
            sources=self.sources, settings={"digest": self.digest, **self.described}, checkpoints=checkpoints,
            recommendation=rec, first_bad=first, parity_breaks=parity_breaks, check_failures=check_failures, gate=gate,
            quality_break=quality_break(by_set, rec, infer_set), quality_breaks=by_set,
            no_recommendation=None if rec else why_no_recommendation(checkpoints, infer_set=infer_set),
            verdict="pass" if gate.passed else "fail", notes=list(s.notes),
            training_log=self.training_log([c.update for c in checkpoints if c.update is not None]),
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
