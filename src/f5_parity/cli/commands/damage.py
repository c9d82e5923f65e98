"""`parity-check damage`: what each single infer-side mistake costs on a trained checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    from f5_parity.scoring.asr import load_asr
    from f5_parity.cases.case import builtin_cases
    from f5_parity.testing.damage import damage_table
    from f5_parity.testing.demo import fixture_dir
    from f5_parity.errors import InputError
    from f5_parity.testing.faults import FAULTS
    from f5_parity.files import cache_dir, write_json_atomic, write_text_atomic
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.cli.commands.progress import progress_reporter

    for f in args.factor or []:
        if f not in FAULTS:
            raise InputError(f"unknown factor {f!r}", f"use one of {', '.join(FAULTS)}")
    fx = fixture_dir()
    ckpt, cfg, vocab = fx / "model_ptbr_tiny.pt", fx / "F5TTS_ptbr_tiny.yaml", fx / "vocab.txt"
    train = trainer_spec(ckpt, train_config=cfg, train_vocab=vocab, vocoder_path=None, seed=args.seed)
    clean = infer_spec(ckpt, infer_config=cfg, infer_vocab=vocab, use_ema=False, vocoder_path=None, seed=args.seed)
    cases = builtin_cases(cache_dir() / "cases", args.cases)
    out = Path(args.out)
    with progress_reporter(console) as progress:
        asr = load_asr(None, backend=args.asr_backend)
        from f5_parity.cli.commands.run import check_seeds

        table = damage_table(train, clean, cases, out, asr, seed=args.seed, seeds=check_seeds(args.seeds),
                             factors=args.factor,
                             progress=lambda what: progress(what, None))
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "damage.json", table.to_dict())
    write_text_atomic(out / "damage.md", table.markdown() + "\n")
    console.print(table.markdown())
    console.print(f"written: {out / 'damage.md'}")
    return 0
