"""`parity-check run CHECKPOINT`: the trainer path and the infer path side by side, and the culprits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError

NAME = "run"
HELP = "compare the trainer path and the infer path on one checkpoint, stage by stage, and isolate the cause"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the checkpoint (.pt or .safetensors)")
    g = p.add_argument_group("trainer side")
    g.add_argument("--train-config", help="official config name (F5TTS_Base, F5TTS_v1_Base, ...) or training YAML; "
                                          "when absent, shapes decide and pe_attn_head/text_mask_padding stay unknown")
    g.add_argument("--train-vocab", help="the vocab.txt the model was trained with")
    g.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"],
                   help="the training run's accelerate mixed precision (the trainer samples under its autocast)")
    g = p.add_argument_group("infer side")
    g.add_argument("--infer-config", default="F5TTS_v1_Base", help="config the infer path uses (infer_cli's -m default)")
    g.add_argument("--infer-vocab", help="vocab the infer path uses (default: f5-tts's own, as load_model)")
    g.add_argument("--infer-ema", dest="infer_ema", action="store_true", default=True,
                   help="infer with the EMA weights (load_model's default)")
    g.add_argument("--no-infer-ema", dest="infer_ema", action="store_false", help="infer with the raw weights")
    g.add_argument("--nfe-step", type=int, default=32)
    g.add_argument("--cfg-strength", type=float, default=2.0)
    g.add_argument("--sway-sampling-coef", type=float, default=-1.0)
    g.add_argument("--speed", type=float, default=1.0)
    g.add_argument("--fix-duration", type=float, default=None)
    g = p.add_argument_group("vocoder")
    g.add_argument("--vocoder-path", help="local vocoder folder (config.yaml + pytorch_model.bin), as load_vocoder(is_local=True)")
    g.add_argument("--vocoder", choices=["auto", "griffin-lim"], default="auto",
                   help="griffin-lim: a vocoder-free resynthesis (no weights needed), clearly labelled in results")
    g = p.add_argument_group("cases")
    g.add_argument("--ref-audio", action="append", default=[], help="reference wav (repeatable)")
    g.add_argument("--ref-text", action="append", default=[], help="its transcript (repeatable, same order)")
    g.add_argument("--gen-text", action="append", default=[], help="held-out text to generate (repeatable)")
    g.add_argument("--cases", help="cases file (CSV or TOML)")
    g.add_argument("--dataset", help="an F5 dataset folder (metadata.csv + wavs/)")
    p.add_argument("--mode", choices=["fast", "full"], default="fast",
                   help="fast: stages and isolation; full: also the generation of both paths")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write the result as JSON to this file")


def build_session(args):
    """Specs and cases from the arguments (bad input raises InputError)."""
    from ..cases import builtin_cases, cases_from_flags, load_cases
    from ..checkpoint import infer_architecture, open_checkpoint
    from ..fixtures import cache_dir
    from ..session import ParitySession
    from ..spec import infer_spec, trainer_spec

    ckpt_path = Path(args.checkpoint)
    ckpt = open_checkpoint(ckpt_path)  # refuses unsafe or broken files with one clear line
    notes = []
    vocoder_path = None if args.vocoder == "griffin-lim" else args.vocoder_path
    if args.vocoder_path and not (Path(args.vocoder_path) / "config.yaml").exists():
        raise InputError(f"no config.yaml in the vocoder folder {args.vocoder_path}",
                         "point --vocoder-path at a folder holding config.yaml and pytorch_model.bin")
    train_vocab = args.train_vocab or args.infer_vocab
    if not args.train_vocab:
        notes.append("--train-vocab not given: the trainer side uses the infer vocab, so vocab order cannot be judged")
    if not train_vocab:
        from ..fixtures import official_vocab_path

        train_vocab = str(official_vocab_path())
    for label, path in (("--train-vocab", train_vocab), ("--infer-vocab", args.infer_vocab)):
        if path and not Path(path).is_file():
            raise InputError(f"{label} file not found: {path}", "give the path of a vocab.txt")
    detected = None
    if not args.train_config:
        weights = ckpt.weight_sets()
        chosen = weights.get("raw") or weights.get("ema")
        if chosen is None:
            raise InputError(f"no model weights found in {ckpt_path}", "is this an F5-TTS checkpoint?")
        arch = infer_architecture({k: chosen.meta[n] for k, n in chosen.cfm_keys().items()})
        detected = {"backbone": arch.backbone, **arch.settings}
        notes.append("--train-config not given: the trainer arch comes from the weights' shapes; "
                     "pe_attn_head and text_mask_padding are unknown (run `parity-check fingerprint` to settle them)")
    train = trainer_spec(ckpt_path, train_config=args.train_config, train_vocab=train_vocab,
                         vocoder_path=vocoder_path, seed=args.seed, mixed_precision=args.mixed_precision,
                         detected_arch=detected)
    infer = infer_spec(ckpt_path, infer_config=args.infer_config, infer_vocab=args.infer_vocab,
                       use_ema=args.infer_ema, vocoder_path=vocoder_path, nfe=args.nfe_step, cfg=args.cfg_strength,
                       sway=args.sway_sampling_coef, speed=args.speed, fix_duration=args.fix_duration,
                       seed=args.seed, device=args.device)
    if args.cases:
        cases = load_cases(args.cases)
    elif args.dataset:
        from ..cases import dataset_cases

        cases = dataset_cases(args.dataset)
    elif args.ref_audio:
        cases = cases_from_flags(args.ref_audio, args.ref_text, args.gen_text)
    else:
        cases = builtin_cases(cache_dir() / "cases", 1)
        notes.append("no cases given: the built-in Portuguese sentence (espeak-ng pt-br) is used")
    session = ParitySession(train, infer, cases, mode=args.mode, device=args.device)
    session.notes.extend(notes)
    return session


def execute(args, console) -> int:
    from ..render import render_run_summary

    with console.status("running both paths stage by stage..."):
        result = build_session(args).run()
    data = result.to_dict()
    data["checkpoint"] = str(args.checkpoint)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=2, ensure_ascii=False))
    render_run_summary(data, console)
    return 0 if data["verdict"] == "pass" else 1
