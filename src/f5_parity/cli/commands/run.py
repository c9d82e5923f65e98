"""`parity-check run CHECKPOINT`: the trainer path and the infer path side by side, and the culprits."""

from __future__ import annotations

import argparse
from pathlib import Path

from f5_parity.errors import InputError

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
    g.add_argument("--infer-cli", help="your f5-tts_infer-cli command line, parsed into the infer side "
                                       "(infer_cli's own defaulting, including its 0-falls-back quirk)")
    g.add_argument("--infer-cli-config", help="your infer_cli TOML (-c), parsed the same way")
    g.add_argument("--infer-path", default="infer-cli",
                   help="how full mode generates on the infer side: infer-cli (utils_infer as infer_cli wires it), "
                        "api (the f5_tts.api.F5TTS class; needs an official --infer-config name), or "
                        "MODULE:FUNCTION / path/to/file.py:FUNCTION, your own wrapper, called as "
                        "fn(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device) -> (wav, sample_rate)")
    g.add_argument("--infer-config", default=None, help="config the infer path uses (default F5TTS_v1_Base, infer_cli's -m default)")
    g.add_argument("--infer-vocab", help="vocab the infer path uses (default: f5-tts's own, as load_model)")
    g.add_argument("--infer-ema", dest="infer_ema", action="store_true", default=True,
                   help="infer with the EMA weights (load_model's default)")
    g.add_argument("--no-infer-ema", dest="infer_ema", action="store_false", help="infer with the raw weights")
    g.add_argument("--nfe-step", type=int, default=None, help="default 32 (utils_infer)")
    g.add_argument("--cfg-strength", type=float, default=None, help="default 2.0")
    g.add_argument("--sway-sampling-coef", type=float, default=None, help="default -1.0")
    g.add_argument("--speed", type=float, default=None, help="default 1.0")
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
    g.add_argument("--samples", help="the Trainer's samples folder (update_N_gen.wav / update_N_ref.wav)")
    g.add_argument("--sample-text", help="what the trainer's sample says (the transcript of its training clip)")
    g.add_argument("--sample-update", type=int, help="which update's samples (default: the latest)")
    g = p.add_argument_group("scoring (full mode)")
    g.add_argument("--asr-model", help="Whisper model name or local path (default: the embedded Whisper base)")
    g.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"], default="faster-whisper")
    g.add_argument("--language", default="pt")
    g = p.add_argument_group("gate (flags beat parity.toml beat pyproject.toml [tool.parity-check])")
    g.add_argument("--max-wer", help="0.6, or per path: infer=0.5,trainer=0.6")
    g.add_argument("--max-cer", help="0.6, or per path")
    g.add_argument("--min-similarity", help="40, or per path (0-100)")
    g.add_argument("--max-gap", help="largest infer-minus-trainer gap: cer=0.2,similarity=20")
    p.add_argument("--mode", choices=["fast", "full"], default="fast",
                   help="fast: stages and isolation; full: also the generation of both paths")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the result JSON to this file (it is always in the report folder)")
    p.add_argument("--junit", help="write a JUnit XML file (a testcase per probe, stage, gate check, case and path)")
    p.add_argument("--out", help="report folder (default reports/<checkpoint-name>-<timestamp>)")


def build_session(args, thresholds=None):
    """Specs and cases from the arguments (bad input raises InputError)."""
    from f5_parity.cases.case import builtin_cases, cases_from_flags, load_cases
    from f5_parity.checkpoint.file import architecture, open_checkpoint
    from f5_parity.testing.fixtures import cache_dir
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.spec import infer_spec, trainer_spec

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
        from f5_parity.testing.fixtures import official_vocab_path

        train_vocab = str(official_vocab_path())
    for label, path in (("--train-vocab", train_vocab), ("--infer-vocab", args.infer_vocab)):
        if path and not Path(path).is_file():
            raise InputError(f"{label} file not found: {path}", "give the path of a vocab.txt")
    from f5_parity.f5.configs import load_config

    for config in (args.train_config, args.infer_config):  # an unknown name is the first thing to say
        if config:
            load_config(config)
    check_vocab_fits(ckpt, train_vocab, "--train-vocab")
    if args.infer_vocab:
        check_vocab_fits(ckpt, args.infer_vocab, "--infer-vocab")
    detected = None
    if not args.train_config:
        arch = architecture(ckpt)
        detected = {"backbone": arch.backbone, **arch.settings}
        notes.append("--train-config not given: the trainer arch comes from the weights' shapes; "
                     "pe_attn_head and text_mask_padding are unknown until the fingerprint settles them")
    train = trainer_spec(ckpt_path, train_config=args.train_config, train_vocab=train_vocab,
                         vocoder_path=vocoder_path, seed=args.seed, mixed_precision=args.mixed_precision,
                         detected_arch=detected)
    infer_kwargs = dict(infer_config=args.infer_config or "F5TTS_v1_Base", infer_vocab=args.infer_vocab,
                        use_ema=args.infer_ema, vocoder_path=vocoder_path, nfe=32, cfg=2.0, sway=-1.0, speed=1.0,
                        fix_duration=args.fix_duration)
    if args.infer_cli or args.infer_cli_config:
        from f5_parity.f5.infercli import load_infer_cli_toml, parse_infer_cli

        cli = parse_infer_cli(args.infer_cli) if args.infer_cli else load_infer_cli_toml(args.infer_cli_config)
        infer_kwargs.update(cli.infer_spec_kwargs())
        if not cli.load_vocoder_from_local:
            infer_kwargs["vocoder_path"] = vocoder_path  # infer_cli would download; use ours, said in the notes
        notes += [f"infer_cli: {f}" for f in cli.findings]
        if cli.checkpoint_given and Path(cli.checkpoint).resolve() != ckpt_path.resolve():
            notes.append(f"infer_cli's -p names {cli.checkpoint}; both paths here load {ckpt_path}")
    for flag, key in (("nfe_step", "nfe"), ("cfg_strength", "cfg"), ("sway_sampling_coef", "sway"), ("speed", "speed")):
        if getattr(args, flag) is not None:
            infer_kwargs[key] = getattr(args, flag)
    if args.infer_config:
        infer_kwargs["infer_config"] = args.infer_config
    if args.infer_vocab:
        infer_kwargs["infer_vocab"] = args.infer_vocab
    infer = infer_spec(ckpt_path, seed=args.seed, device=args.device, **infer_kwargs)
    if args.samples:
        from f5_parity.cases.samples import cases_from_samples

        if not args.sample_text:
            raise InputError("--samples needs --sample-text", "give the transcript the trainer's sample repeats")
        found = cases_from_samples(args.samples, args.sample_text, update=args.sample_update)
        cases = found.cases
        notes.append(found.note)
    elif args.cases:
        cases = load_cases(args.cases)
    elif args.dataset:
        from f5_parity.cases.case import dataset_cases

        cases = dataset_cases(args.dataset)
    elif args.ref_audio:
        cases = cases_from_flags(args.ref_audio, args.ref_text, args.gen_text)
    else:
        cases = builtin_cases(cache_dir() / "cases", 1)
        notes.append("no cases given: the built-in Portuguese sentence (espeak-ng pt-br) is used")
    fingerprint_result = None
    if train.unknown:
        train, fingerprint_result, note = settle_unknown_flags(train, cases, args.seed)
        notes.append(note)
    session = ParitySession(train, infer, cases, mode=args.mode, device=args.device,
                            tolerances=thresholds.tolerances if thresholds else None)
    session.notes.extend(notes)
    session.fingerprint = fingerprint_result
    return session


def check_vocab_fits(ckpt, vocab_path: str, label: str) -> None:
    """A vocab of another size than the text embedding: F5's strict load fails; say so in one line."""
    from f5_parity.checkpoint.file import architecture
    from f5_parity.testing.fixtures import read_vocab_chars

    entries = architecture(ckpt).text_num_embeds
    size = len(read_vocab_chars(vocab_path))
    if entries is not None and size != entries:
        raise InputError(f"{label} {vocab_path} has {size} entries but the checkpoint's text embedding was built for "
                         f"{entries} (+1 filler row): load_model would fail with a size mismatch",
                         "pass the vocab.txt the model was trained with (`parity-check inspect` shows the sizes)")


def settle_unknown_flags(train, cases, seed: int):
    """Without --train-config: the checkpoint's own flow-matching loss picks pe_attn_head/text_mask_padding.

    Only a decisive winner (margin over the paired spread) is used; otherwise they stay unknown.
    """
    from f5_parity.parity.fingerprint import fingerprint, winning_spec
    from f5_parity.paths.spec import PathSpec

    start = train.with_value("arch", pe_attn_head=None, text_mask_padding=True)
    start = PathSpec(train.label, start.values, start.locators, frozenset())
    (verdict,) = fingerprint(start, cases, vocab_files={"training vocab": train.locate("vocab", "path")},
                             include_ema=False, draws=4, seed=seed, families=("arch",))
    if not verdict.decisive:
        return train, [verdict.to_dict()], ("fingerprint could not settle pe_attn_head/text_mask_padding "
                                            f"(margin {verdict.margin} within the spread {verdict.margin_spread}): "
                                            "they stay unknown; give --train-config")
    vocab = {"training vocab": train.locate("vocab", "path")}
    settled = winning_spec(start, [verdict], vocab_files=vocab, include_ema=False)
    return settled, [verdict.to_dict()], (f"--train-config not given: fingerprint settled the flags as {verdict.winner} "
                                          f"(loss margin {verdict.margin:.4f} > paired spread {verdict.margin_spread:.4f})")


def infer_runner(args):
    from f5_parity.f5.configs import official_config_names
    from f5_parity.parity.generate import InferRunner
    from f5_parity.paths.infer import load_custom

    if args.infer_path == "infer-cli":
        return InferRunner()
    if args.infer_path == "api":
        name = args.infer_config or "F5TTS_v1_Base"
        if name not in official_config_names():
            raise InputError(f"--infer-path api needs an official --infer-config name, not {name!r}",
                             f"the F5TTS class only loads {', '.join(official_config_names())}")
        return InferRunner("api", name)
    load_custom(args.infer_path)  # fail now, with one line, not after the stages
    return InferRunner("custom", args.infer_path)


def gate_flags(args) -> dict:
    from f5_parity.parity.gate import parse_path_values

    flags = {}
    for name in ("max_wer", "max_cer", "min_similarity", "max_gap"):
        value = getattr(args, name, None)
        if value is not None:
            flags[name] = parse_path_values(value)
    return flags


def execute(args, console) -> int:
    import datetime as dt

    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import PipelineOptions, exact_command, run_pipeline
    from f5_parity.render.terminal import render_run_summary
    from f5_parity.render.markdown import report_dir_name
    from f5_parity.cli.commands.progress import progress_reporter

    thresholds, source = load_thresholds(gate_flags(args), Path.cwd())
    session = build_session(args, thresholds)
    out = Path(args.out) if args.out else Path("reports") / report_dir_name(Path(args.checkpoint).stem, dt.datetime.now())
    opts = PipelineOptions(out_dir=out, command=exact_command(), seed=args.seed, device=args.device,
                           infer_runner=infer_runner(args),
                           asr_model=args.asr_model, asr_backend=args.asr_backend, language=args.language,
                           thresholds=thresholds, threshold_source=source,
                           junit=Path(args.junit) if args.junit else None,
                           json_path=Path(args.json) if args.json else None, inspect_config=args.train_config)
    with progress_reporter(console) as progress:
        outcome = run_pipeline(session, args.checkpoint, opts, progress)
    render_run_summary(outcome.data, console)
    console.print(f"report: {outcome.report}")
    return 0 if outcome.data["verdict"] == "pass" else 1
