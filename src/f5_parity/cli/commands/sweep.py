"""`parity-check sweep RUN`: every checkpoint of a training run, the curves, the first bad one, the best one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "sweep"
HELP = ("sweep a training run's checkpoints: parity verdict, scores and EMA distance per checkpoint, the first "
        "update where parity breaks, the checkpoint to ship; cached, resumable, shardable over processes")

# run's options that sweep defines its own way (or not at all)
_OWN = {"checkpoint", "mode", "seed", "seeds", "cross_paths", "device", "json", "junit", "out", "help", "debug"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from f5_parity.cli.commands import run

    p.add_argument("run", nargs="+", help="the checkpoints: F5's ckpts/<exp>/ folder (model_<update>.pt, "
                                          "model_last.pt, pruned .pt/.safetensors), a quoted glob, or files")
    # The infer side, the trainer side, cases, scoring and gate flags are run's own: one definition, so a
    # sweep judges every checkpoint exactly as `run` judges one.
    borrowed = argparse.ArgumentParser(add_help=False)
    run.add_arguments(borrowed)
    for group in borrowed._action_groups:
        actions = [a for a in group._group_actions if a.dest not in _OWN]
        if not actions:
            continue
        target = p.add_argument_group(group.title) if group.title not in ("positional arguments", "options") else p
        for action in actions:
            target._add_action(action)
    g = p.add_argument_group("sweep")
    g.add_argument("--mode", choices=["fast", "full"], default="fast",
                   help="fast: per checkpoint the parity verdict, culprits and EMA distance; full: also generate "
                        "the held-out text through the trainer and infer paths, each weight set, and score it")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--seeds", type=int, default=3,
                   help="full mode: noise seeds per scored generation (seed, seed+1, ...; default 3)")
    g.add_argument("--weights", default="raw,ema", help="weight sets to score where the file holds them (raw,ema)")
    g.add_argument("--held-out", metavar="METADATA",
                   help="clips the model did not train on (F5's metadata.csv format, `audio_file|text`): the flow "
                        "loss on them measures generalisation, reported apart from the fit on the reference clips")
    g.add_argument("--quality-draws", type=int, default=8,
                   help="fixed noise/time/mask draws per clip for the flow-loss quality signal (default 8)")
    g.add_argument("--gate", choices=["best", "all", "last"], default="best",
                   help="best: some checkpoint passes (the recommended one); all: every one; last: the newest")
    g.add_argument("--device", default="cpu", help="cpu, or cuda: each process then takes its own GPU")
    g.add_argument("--out", help="output folder (default reports/sweep-<folder name>; the cache lives there, "
                                 "so re-running into it computes only what is new)")
    g.add_argument("--junit", help="write a JUnit XML file (a testcase per checkpoint and one for the gate)")
    g.add_argument("--watch", action="store_true",
                   help="follow a live training folder: sweep each checkpoint once its size stops changing")
    g.add_argument("--poll", type=float, default=10.0, help="--watch: seconds between polls (default 10)")
    g.add_argument("--watch-timeout", type=float, default=3600.0,
                   help="--watch: stop this many seconds after the last new checkpoint (default 3600)")
    g.add_argument("--launch", type=int, metavar="N",
                   help="start N processes on this machine (torchrun, with accelerate's state) and share the work")


def _default_out(sources: list[str]) -> Path:
    first = Path(sources[0])
    name = (first if first.is_dir() else first.parent).resolve().name or "run"
    return Path("reports") / f"sweep-{name}"


def _launch(args) -> int:
    """torchrun --standalone --nproc_per_node N -m f5_parity sweep ... (the same flags, without --launch)."""
    import subprocess

    from f5_parity.errors import InputError
    from f5_parity.parity.sweep import discover_checkpoints

    if args.launch < 1:
        raise InputError(f"--launch {args.launch}", "give the number of processes, 1 or more")
    discover_checkpoints(args.run)  # a wrong path is said here, once, with exit 2
    argv = list(sys.argv[1:])
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
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.launch}",
           "-m", "f5_parity", "sweep", *rest]
    return subprocess.run(cmd).returncode


def execute(args, console) -> int:
    from f5_parity.errors import InputError
    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import exact_command
    from f5_parity.parity.quality import held_out_clips
    from f5_parity.parity.sweep import WEIGHT_SETS, Processes, Sweep, SweepSettings
    from f5_parity.cli.options import gate_flags

    if args.launch:
        return _launch(args)
    weights = tuple(w.strip() for w in args.weights.split(",") if w.strip())
    if not weights or set(weights) - set(WEIGHT_SETS):
        raise InputError(f"--weights {args.weights!r}", "give raw, ema or raw,ema")
    if args.quality_draws < 2:
        raise InputError(f"--quality-draws {args.quality_draws}: an interval needs two draws or more",
                         "give --quality-draws 2 or more (default 8)")
    if args.seeds < 1:
        raise InputError(f"--seeds {args.seeds}: at least one seed is needed", "give --seeds 1 or more")
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    procs = Processes.from_accelerate(cpu=not args.device.startswith("cuda"))
    try:
        thresholds, source = load_thresholds(gate_flags(args), Path.cwd())
        first = _first_checkpoint(args, procs)
        args.checkpoint = str(first)  # the specs are built against one checkpoint, then retargeted to each
        out = Path(args.out) if args.out else _default_out(args.run)
        train, infer, cases, runner, fingerprint, notes, predicted = _built_on_main(args, thresholds, out, procs)
        settings = SweepSettings(
            train=train, infer=infer, cases=cases, mode=args.mode, seeds=seeds,
            weight_sets=weights, tolerances=thresholds.tolerances, thresholds=thresholds, threshold_source=source,
            gate=args.gate, device=args.device, asr_model=args.asr_model, asr_backend=args.asr_backend,
            language=args.language, infer_runner=runner, inspect_config=args.train_config,
            fingerprint=fingerprint, command=exact_command(), notes=notes,
            held_out=held_out_clips(args.held_out) if args.held_out else [], quality_draws=args.quality_draws,
            infer_predicted=predicted)
        if procs.is_main:
            return _run_main(args, console, settings, out, procs)
        sweep = Sweep(args.run, settings, out, processes=procs)
        sweep.watch(poll_seconds=args.poll, timeout_seconds=args.watch_timeout) if args.watch else sweep.run_once()
        return 0
    finally:
        procs.close()


def _built_on_main(args, thresholds, out: Path, procs):
    """The specs, cases and infer runner, built once on the main process and sent to the others.

    The user's infer path is observed here on the oldest checkpoint (bad input is said before any work), and
    again on every checkpoint by the sweep (parity/sweep.py _verdict), from the spec the flags predict."""
    from f5_parity.cli.options import build_session
    from f5_parity.errors import InputError

    payload = None
    if procs.is_main:
        try:
            built = build_session(args, thresholds, workdir=out / "observed")
            s = built.session
            from f5_parity.cli.options import _infer_kwargs
            from f5_parity.paths.spec import infer_spec

            ckpt = Path(args.checkpoint)  # the spec the flags predict: observed again on every checkpoint
            predicted = infer_spec(ckpt, seed=args.seed, device=args.device, **_infer_kwargs(
                args, ckpt, None if args.vocoder == "griffin-lim" else args.vocoder_path, []))
            payload = ("ok", (s.train, s.infer, s.cases, built.runner, built.fingerprint, list(s.notes), predicted))
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
    return payload[1]


def _first_checkpoint(args, procs):
    """Any checkpoint of the run (the oldest): the one the specs are built against. --watch waits for one."""
    import time

    from f5_parity.errors import InputError
    from f5_parity.parity.sweep import discover_checkpoints

    found = discover_checkpoints(args.run)
    if not found and not args.watch:
        raise InputError(f"no checkpoint (.pt, .safetensors) in {' '.join(args.run)}",
                         "give F5's ckpts/<exp>/ folder, a quoted glob, or checkpoint files")
    first = None
    if procs.is_main:
        deadline = time.monotonic() + args.watch_timeout
        while not found and time.monotonic() < deadline:
            time.sleep(args.poll)
            found = discover_checkpoints(args.run)
        if found:
            from f5_parity.parity.sweep import update_from_name

            first = str(min(found, key=lambda p: (update_from_name(p) is None, update_from_name(p) or 0, p.name)))
    first = procs.broadcast(first)
    if first is None:
        raise InputError(f"no checkpoint appeared in {' '.join(args.run)} within --watch-timeout",
                         "start the training first, or raise --watch-timeout")
    return first


def _run_main(args, console, settings, out: Path, procs) -> int:
    from f5_parity.cli.commands.progress import progress_reporter
    from f5_parity.parity.sweep import Sweep
    from f5_parity.render.sweep import write_sweep_files

    junit = Path(args.junit) if args.junit else None

    def render(report) -> None:
        write_sweep_files(report, out, junit=junit)

    with progress_reporter(console) as progress:
        sweep = Sweep(args.run, settings, out, processes=procs, progress=progress, on_report=render)
        if args.watch:
            report = sweep.watch(poll_seconds=args.poll, timeout_seconds=args.watch_timeout)
        else:
            report = sweep.run_once()
    _summary(report, console, out)
    return 0 if report.passed else 1


def _summary(report, console, out: Path) -> None:
    from rich.markup import escape  # check names hold brackets (cer[infer]) that rich would eat
    for c in report.checkpoints:
        culprits = ", ".join(c.get("culprits") or [f["name"] for f in c.get("failed_checks") or []
                                                   if f["name"] != "parity"])
        ema = (c.get("ema") or {}).get("rel_l2")
        console.print(escape(f"{c['name']:<28} update {str(c.get('update')):>8}  {c.get('verdict', '-'):<7} "
                             f"EMA-raw {ema if ema is not None else '-'}  {culprits}"))
    rec = report.recommendation
    for b in report.parity_breaks[:1] + report.check_failures[:1]:
        what = "parity first breaks" if b["kind"] == "parity" else "a check first fails"
        console.print(escape(f"{what} at {b['checkpoint']} (update {b['update'] if b['update'] is not None else '-'}):"
                             f" {', '.join(b['culprits'])}"))
    if report.quality_break:
        qb = report.quality_break
        console.print(escape(f"quality breaks at {qb['checkpoint']} ({qb['weights']}): flow loss "
                             f"{qb['value']['mean']} vs {qb['best_before']['value']['mean']} at "
                             f"{qb['best_before']['checkpoint']}"))
    if rec:
        console.print(escape(f"recommended: {rec['checkpoint']} with the {rec['weights']} weights — {rec['reason']}"))
    else:
        console.print(escape(f"no checkpoint to recommend: {report.no_recommendation}"))
    e = report.execution
    console.print(f"gate {report.gate.get('mode')}: {'PASS' if report.passed else 'FAIL'}  "
                  f"({e.get('units_computed')} units computed, {e.get('units_from_cache')} cached, "
                  f"{e.get('processes')} process(es))")
    console.print(f"report: {out / 'sweep.md'}")
