"""`parity-check damage`: what each single infer-side mistake costs on a trained checkpoint."""

from __future__ import annotations

import argparse

NAME = "damage"
HELP = "generate through the infer path with each single fault injected and score it (the damage table)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="reports/damage", help="output folder (default reports/damage)")
    p.add_argument("--cases", type=int, default=2, help="a COUNT (not a file, unlike run --cases): "
                        "built-in Portuguese sentences to use (default 2)")
    p.add_argument("--factor", action="append", help="only these factor ids (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=3, help="noise seeds per row (seed, seed+1, ...; default 3)")
    p.add_argument("--vocoder", choices=["griffin-lim"], default="griffin-lim",
                   help="griffin-lim: vocoder-free resynthesis (no vocoder weights can be downloaded here)")
    p.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"], default="faster-whisper")


def execute(args, console) -> int:
    from f5_parity.cli.commands.progress import progress_reporter
    from f5_parity.engine.run import damage

    with progress_reporter(console) as progress:
        done = damage(args.request, progress, validated=True)
    console.print(done.table.markdown())
    console.print(f"written: {done.markdown}")
    return 0
