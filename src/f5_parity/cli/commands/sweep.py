"""`parity-check sweep RUN`: every checkpoint of a training run, the curves, the first bad one, the best one."""

from __future__ import annotations

import argparse
import sys

from f5_parity.engine.requests import DEFAULT_DRAWS  # the request keeps the default (sweeps/quality.py)

NAME = "sweep"
HELP = ("sweep a training run's checkpoints: parity verdict, scores and EMA distance per checkpoint, the first "
        "update where parity breaks, the checkpoint to ship; cached, resumable, shardable over processes")

# run's options that sweep defines its own way (or not at all)
_OWN = {"checkpoint", "mode", "seed", "seeds", "cross_paths", "device", "json", "junit", "out", "help", "debug"}


class _Without:
    """A parser (or one of its groups) that takes run's add_arguments but leaves out the options whose dest is in
    `skip`; a group is created on its first option kept, so a group sweep keeps nothing of does not appear."""

    def __init__(self, target, skip: set[str], make=None):
        self._target, self._skip, self._make = target, skip, make

    def add_argument(self, *names: str, **kwargs):
        longs = [n for n in names if n.startswith("--")]
        dest = kwargs.get("dest") or (longs[0] if longs else names[0]).lstrip("-").replace("-", "_")
        if dest in self._skip:
            return None
        if self._target is None:
            self._target = self._make()
        return self._target.add_argument(*names, **kwargs)

    def add_argument_group(self, title: str, *args, **kwargs) -> "_Without":
        parser = self._target
        return _Without(None, self._skip, lambda: parser.add_argument_group(title, *args, **kwargs))


def add_arguments(p: argparse.ArgumentParser) -> None:
    from f5_parity.cli.commands import run

    p.add_argument("run", nargs="+", metavar="CHECKPOINTS", help="the checkpoints: F5's ckpts/<exp>/ folder (model_<update>.pt, "
                                          "model_last.pt, pruned .pt/.safetensors), a quoted glob, or files")
    # The infer side, the trainer side, cases, scoring and gate flags are run's own: one definition, so a
    # sweep judges every checkpoint exactly as `run` judges one.
    run.add_arguments(_Without(p, _OWN))
    g = p.add_argument_group("sweep")
    g.add_argument("--mode", choices=["fast", "full"], default="fast",
                   help="fast (default): per checkpoint the parity verdict, culprits and EMA distance; full: also "
                        "generate the held-out text through the trainer and infer paths, each weight set, and score it")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--seeds", type=int, default=3,
                   help="full mode: noise seeds per scored generation (seed, seed+1, ...; default 3)")
    g.add_argument("--weights", default="raw,ema", help="weight sets to score where the file holds them (raw,ema)")
    g.add_argument("--held-out", metavar="METADATA",
                   help="clips the model did not train on (F5's metadata.csv format, `audio_file|text`): the flow "
                        "loss on them measures generalisation, reported apart from the fit on the reference clips")
    g.add_argument("--quality-draws", type=int, default=DEFAULT_DRAWS,
                   help=f"fixed noise/time/mask draws per clip for the flow-loss quality signal (default {DEFAULT_DRAWS})")
    g.add_argument("--train-log", metavar="DIR",
                   help="F5's tensorboard log of the run (runs/<name>/, logger='tensorboard'): its training loss is "
                        "drawn beside the flow loss (default: a runs/ folder next to the checkpoints)")
    g.add_argument("--gate", choices=["best", "all", "last"], default="best",
                   help="exit 1 unless: best (default) a recommended checkpoint exists; all: every checkpoint passes; "
                        "last: the newest passes")
    g.add_argument("--device", default="cpu", help="cpu, or cuda: each process then takes its own GPU")
    g.add_argument("--out", help="output folder (default reports/sweep-<folder name>; the cache lives there, "
                                 "so re-running into it computes only what is new)")
    g.add_argument("--junit", help="write a JUnit XML file (a testcase per checkpoint and one for the gate)")
    g.add_argument("--watch", action="store_true",
                   help="follow a live training folder: sweep each checkpoint once its size stops changing")
    g.add_argument("--poll", type=float, default=10.0, help="--watch: seconds between polls (default 10)")
    g.add_argument("--watch-timeout", type=float, default=3600.0,
                   help="--watch: stop once nothing in the folder changed for this many seconds (default 3600)")
    g.add_argument("--launch", type=int, metavar="N",
                   help="start N processes on this machine (torchrun, with accelerate's state) and share the work")


def execute(args, console) -> int:
    """args.request: the validated engine.requests.SweepRequest these flags make (cli/main.py)."""
    from f5_parity.cli.commands.progress import progress_reporter
    from f5_parity.engine.sweep import launch, sweep
    from f5_parity.render.terminal import render_sweep_summary

    if args.request.launch:
        return launch(args.request, list(sys.argv[1:]), validated=True)
    with progress_reporter(console) as progress:
        done = sweep(args.request, progress, validated=True)
    if not done.is_main:
        return 0
    render_sweep_summary(done.report, console, done.out)
    return 0 if done.report.passed else 1
