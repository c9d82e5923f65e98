"""`parity-check inspect CHECKPOINT`: the truth about a checkpoint file and what F5-TTS will do with it."""

from __future__ import annotations

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


def execute(args, console) -> int:
    from f5_parity.engine.run import inspect

    report = inspect(args.request, validated=True)
    render_inspect(report, console)
    if args.request.json:
        console.print(f"JSON: {args.request.json}")
    return 1 if report.failed else 0
