"""`parity-check inspect CHECKPOINT`: the truth about a checkpoint file and what F5-TTS will do with it."""

from __future__ import annotations

import os
from pathlib import Path

from f5_parity.checkpoint.inspect import InspectReport, inspect_checkpoint
from f5_parity.files import write_json_atomic
from f5_parity.render.terminal import render_inspect

NAME = "inspect"
HELP = ("Inspect a checkpoint without executing pickles: anatomy, architecture, what F5's loaders do with it, "
        "EMA health, vocab and text coverage.")

def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help=".pt or .safetensors file (opened read-only)")
    parser.add_argument("--config", metavar="NAME|YAML",
                        help="f5-tts config name (F5TTS_v1_Base, F5TTS_Base, ...) or a YAML in f5's schema")
    parser.add_argument("--vocab", metavar="FILE",
                        help="inference vocab (default: f5-tts's packaged vocab, as load_model uses)")
    parser.add_argument("--train-vocab", metavar="FILE", help="the vocab the model was trained with")
    parser.add_argument("--text", action="append", metavar="TEXT", help="a text to check against the vocab (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the findings as JSON")


def write_json(report: InspectReport, path: str | os.PathLike) -> Path:
    return write_json_atomic(path, report.to_dict())


def execute(args, console) -> int:
    report = inspect_checkpoint(args.checkpoint, args.config, args.vocab, args.train_vocab, args.text)
    render_inspect(report, console)
    if args.json:
        p = write_json(report, args.json)
        console.print(f"JSON: {p}")
    return 1 if report.failed else 0
