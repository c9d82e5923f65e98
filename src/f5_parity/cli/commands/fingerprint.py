"""`parity-check fingerprint CHECKPOINT`: which training settings the checkpoint's own loss prefers."""

from __future__ import annotations

import argparse
from pathlib import Path

from f5_parity.errors import InputError

NAME = "fingerprint"
HELP = ("settle the settings the weights cannot reveal (v0/v1 flags, vocab order, mel type, raw/EMA) "
        "from the checkpoint's flow-matching loss on your audio")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--vocab", action="append", default=[], help="candidate vocab file (repeatable)")
    p.add_argument("--dataset", help="an F5 dataset folder (metadata.csv + wavs/); its vocab.txt is a candidate")
    p.add_argument("--ref-audio", action="append", default=[])
    p.add_argument("--ref-text", action="append", default=[])
    p.add_argument("--cases", type=int, default=3, help="a COUNT (not a file, unlike run --cases): "
                        "how many --dataset utterances to use (default 3)")
    p.add_argument("--draws", type=int, default=6, help="noise/time/mask draws per candidate to start with (default 6)")
    p.add_argument("--max-draws", type=int, default=30,
                   help="draws are added --draws at a time until each family is decided at p < 0.01, up to this "
                        "many (default 30); a family still open then is reported as not decided")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write the result as JSON")


def base_spec(checkpoint: str, vocab: str, device: str):
    """The trainer spec with the arch read from the weights (flags unknown) and the v1 flags as a start."""
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.checkpoint.file import open_checkpoint
    from f5_parity.f5.configs import fixed_arch_flags
    from f5_parity.paths.spec import trainer_spec

    ck = open_checkpoint(checkpoint)
    sets = ck.weight_sets()
    arch = architecture(ck)
    detected = {"backbone": arch.backbone, **arch.settings}
    spec = trainer_spec(checkpoint, train_config=None, train_vocab=vocab, vocoder_path=None, detected_arch=detected)
    # Start from v1 (the 1.x default); a release that builds v0 only (0.x) starts from what it builds.
    spec = spec.with_value("arch", **(fixed_arch_flags(arch.backbone) or dict(pe_attn_head=None, text_mask_padding=True)))
    if "raw" not in sets:
        spec = spec.with_value("weights", set="ema")
    return spec, "raw" in sets and "ema" in sets


def embedding_vocab_size(checkpoint: str) -> int | None:
    """Vocab entries the text embedding was built for (its rows minus the filler row)."""
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.checkpoint.file import open_checkpoint

    return architecture(open_checkpoint(checkpoint)).text_num_embeds


def execute(args, console) -> int:
    from rich.table import Table

    from f5_parity.cases.case import cases_from_flags, dataset_cases
    from f5_parity.parity.fingerprint import fingerprint
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars

    vocab_files: dict[str, str] = {}
    for v in args.vocab:
        if not Path(v).is_file():
            raise InputError(f"--vocab file not found: {v}", "give the path of a vocab.txt")
        vocab_files[f"given: {v}"] = v
    if args.dataset:
        cases = dataset_cases(args.dataset, count=args.cases)
        if (Path(args.dataset) / "vocab.txt").is_file():
            vocab_files[f"dataset: {Path(args.dataset) / 'vocab.txt'}"] = str(Path(args.dataset) / "vocab.txt")
    elif args.ref_audio:
        cases = cases_from_flags(args.ref_audio, args.ref_text, None)
    else:
        raise InputError("fingerprint needs the model's own kind of audio", "give --dataset DIR or --ref-audio/--ref-text")
    default = str(official_vocab_path())
    first = next(iter(vocab_files.values()), default)
    spec, has_ema = base_spec(args.checkpoint, first, args.device)
    size = embedding_vocab_size(args.checkpoint)
    if size == len(read_vocab_chars(default)):
        vocab_files.setdefault(f"f5-tts default: {default}", default)
    if not vocab_files:
        raise InputError(f"no candidate vocab fits the embedding ({size} entries)", "give the training vocab with --vocab")
    mismatched = [k for k, p in vocab_files.items() if size is not None and len(read_vocab_chars(p)) != size]
    for k in mismatched:
        console.print(f"[yellow]skipping vocab {k}: {len(read_vocab_chars(vocab_files[k]))} entries, the embedding has {size}[/]")
        vocab_files.pop(k)
    if not vocab_files:
        raise InputError(f"no candidate vocab has {size} entries like the embedding", "give the training vocab with --vocab")
    spec = spec.with_value("vocab", locator={"path": next(iter(vocab_files.values()))})
    with console.status("computing the flow-matching loss of each candidate..."):
        verdicts = fingerprint(spec, cases, vocab_files=vocab_files, include_ema=has_ema, draws=args.draws,
                               max_draws=max(args.draws, args.max_draws), seed=args.seed)
    for v in verdicts:
        table = Table(title=f"{v.family}: {v.statement}")
        for col in ("candidate", "loss", "spread over draws"):
            table.add_column(col)
        for c in sorted(v.candidates, key=lambda c: (c.mean is None, c.mean or 0)):
            table.add_row(c.label, "-" if c.mean is None else f"{c.mean:.4f}",
                          c.reason or ("-" if c.spread is None else f"{c.spread:.4f}"))
        console.print(table)
    if args.json:
        from f5_parity.files import write_json_atomic

        write_json_atomic(args.json, {"checkpoint": args.checkpoint, "families": [v.to_dict() for v in verdicts]})
    return 0
