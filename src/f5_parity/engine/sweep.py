"""`sweep` assembled and run: the specs built once on the main process (the user's infer path observed on
the oldest checkpoint), sent to the others, every checkpoint judged, the files written through render/.

Validation (engine/requests.py SweepRequest) happens before any of this, so an output that would land on
a checkpoint or inside the run folder is refused before a process starts.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from f5_parity.engine.requests import RunRequest, SweepRequest
from f5_parity.errors import InputError
from f5_parity.sweeps.report import SweepReport
from f5_parity.sweeps.run import ObservedPath

if TYPE_CHECKING:  # the shared parts' types (their modules load torch and f5-tts)
    from f5_parity.cases.case import Case
    from f5_parity.observe.path import InferRunner
    from f5_parity.parity.gate import Thresholds
    from f5_parity.paths.spec import PathSpec
    from f5_parity.sweeps.processes import Processes


@dataclass
class Swept:
    """What this process of a sweep produced: the report on the main process, None on the others."""

    report: SweepReport | None
    out: Path
    is_main: bool = True


def launch(request: SweepRequest, argv: list[str], *, validated: bool = False) -> int:
    """torchrun --standalone --nproc_per_node N -m f5_parity sweep ... (the same flags, without --launch);
    `argv` is the command line after the program name. Returns the launcher's exit status."""
    if not validated:
        request.validate()
    i = argv.index("sweep") if "sweep" in argv else 0
    rest, skip = [], False
    for a in argv[i + 1:]:
        if skip:
            skip = False
            continue
        if a == "--launch":
            skip = True
            continue
        if a.startswith("--launch="):
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={request.launch}",
           "-m", "f5_parity", "sweep", *rest]
    return subprocess.run(cmd).returncode


def sweep(request: SweepRequest, progress: Callable | None = None, *, command: str | None = None,
          validated: bool = False) -> Swept:
    """Judge every checkpoint of the run as `run` judges one; on the main process write sweep.json, sweep.md,
    the plots (and --junit) after each finished checkpoint, and return the SweepReport."""
    from f5_parity.engine.assemble import gate_flags
    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import exact_command
    from f5_parity.sweeps.quality import held_out_clips
    from f5_parity.sweeps.training_log import find_training_logs
    from f5_parity.sweeps.processes import Processes
    from f5_parity.sweeps.run import Sweep
    from f5_parity.sweeps.units import SweepSettings
    from f5_parity.render.sweep import write_sweep_files

    if not validated:
        request.validate()
    procs = Processes.from_accelerate(cpu=not request.device.startswith("cuda"))
    try:
        thresholds, source = load_thresholds(gate_flags(request), request.cwd)
        first = _first_checkpoint(request, procs)
        out = request.out_folder
        shared, observed_first = _built_on_main(request.for_checkpoint(first), thresholds, out, procs)
        settings = SweepSettings(
            train=shared.train, infer=shared.infer, cases=shared.cases, mode=request.mode,
            seeds=tuple(range(request.seed, request.seed + request.seeds)), weight_sets=request.weight_sets,
            tolerances=thresholds.tolerances, thresholds=thresholds, threshold_source=source,
            gate=request.gate, device=request.device, asr_model=request.asr_model, asr_backend=request.asr_backend,
            language=request.language, infer_runner=shared.runner, inspect_config=request.train_config,
            fingerprint=shared.fingerprint, command=command if command is not None else exact_command(),
            notes=shared.notes, held_out=held_out_clips(request.held_out) if request.held_out else [],
            quality_draws=request.quality_draws, infer_predicted=shared.predicted,
            mirror_reference=shared.mirror_reference, port_map=request.port_map_settings,
            train_logs=[str(Path(request.train_log).absolute())] if request.train_log
            else [str(p.absolute()) for p in find_training_logs(request.run)])
        if not procs.is_main:
            s = Sweep(request.run, settings, out, processes=procs)
            s.watch(poll_seconds=request.poll, timeout_seconds=request.watch_timeout) if request.watch else s.run_once()
            return Swept(None, out, is_main=False)
        junit = Path(request.junit) if request.junit else None

        def render(report) -> None:
            write_sweep_files(report, out, junit=junit)

        s = Sweep(request.run, settings, out, processes=procs, progress=progress, on_report=render,
                  observed={first: observed_first} if observed_first is not None else None)
        if request.watch:
            report = s.watch(poll_seconds=request.poll, timeout_seconds=request.watch_timeout)
        else:
            report = s.run_once()
        return Swept(report, out)
    finally:
        procs.close()


@dataclass
class SharedSpecs:
    """What the main process assembles once and sends to the others (pickled): every checkpoint is judged
    against these, retargeted to its own file."""

    train: PathSpec
    infer: PathSpec  # as the user's path really ran on the oldest checkpoint (observed)
    cases: list[Case]
    runner: InferRunner
    fingerprint: list[dict[str, Any]] | None
    notes: list[str]
    predicted: PathSpec  # what the flags predict: each checkpoint's observation is compared with it again
    mirror_reference: tuple[str, str] | None  # (spec key, checkpoint) of a passed mirror check, reused


def _built_on_main(request: RunRequest, thresholds: Thresholds, out: Path, procs: Processes
                   ) -> tuple[SharedSpecs, ObservedPath | None]:
    """The specs, cases and infer runner, built once on the main process and sent to the others; and, on the
    main process, the observation of the user's path made while building them (None elsewhere).

    The user's infer path is observed here on the oldest checkpoint (bad input is said before any work), in
    fast mode whatever the sweep's mode: every checkpoint's verdict observes the path in fast mode (sweeps/
    run.py _verdict), and a full generation here would be thrown away. That observation is the oldest
    checkpoint's own: its verdict takes it instead of observing the same file again with the same inputs."""
    from f5_parity.engine.assemble import build_session

    payload, observed_first = None, None
    if procs.is_main:
        try:
            request.mode = "fast"  # a copy made for this checkpoint (SweepRequest.for_checkpoint)
            built = build_session(request, thresholds, workdir=out / "observed")
            s = built.session
            check = built.observation.mirror_check
            mirror_reference = ((check.spec_key, Path(request.checkpoint).name)
                                if check is not None and check.passed and check.velocity_passed and check.spec_key
                                else None)
            payload = ("ok", SharedSpecs(s.train, s.infer, s.cases, built.runner, built.fingerprint, list(s.notes),
                                         built.predicted, mirror_reference))
            observed = None if built.observation.failure is not None else s.infer
            observed_first = ObservedPath(built.observation, observed, s.cases[0], list(built.runner.observed))
        except InputError as exc:
            payload = ("input", exc.problem, exc.fix)
            procs.broadcast(payload)
            raise
        except BaseException as exc:
            procs.broadcast(("internal", f"{type(exc).__name__}: {exc}", ""))
            raise
    payload = procs.broadcast(payload)
    if payload[0] == "input":
        raise InputError(payload[1], payload[2])
    if payload[0] == "internal":
        raise RuntimeError(f"the main process failed: {payload[1]}")
    return payload[1], observed_first


def _first_checkpoint(request: SweepRequest, procs):
    """Any checkpoint of the run (the oldest): the one the specs are built against. --watch waits for one."""
    from f5_parity.sweeps.discovery import discover_checkpoints, update_from_name

    found = discover_checkpoints(request.run)
    if not found and not request.watch:
        raise InputError(f"no checkpoint (.pt, .safetensors) in {' '.join(request.run)}",
                         "give F5's ckpts/<exp>/ folder, a quoted glob, or checkpoint files")
    first = None
    if procs.is_main:
        deadline = time.monotonic() + request.watch_timeout
        while not found and time.monotonic() < deadline:
            time.sleep(request.poll)
            found = discover_checkpoints(request.run)
        if found:
            first = str(min(found, key=lambda p: (update_from_name(p) is None, update_from_name(p) or 0, p.name)))
    first = procs.broadcast(first)
    if first is None:
        raise InputError(f"no checkpoint appeared in {' '.join(request.run)} within --watch-timeout",
                         "start the training first, or raise --watch-timeout")
    return first
