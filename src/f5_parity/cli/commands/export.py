"""`parity-check export CHECKPOINT OUT --weights raw --for infer-cli`: the weight set the Trainer sampled from,
in the slot f5-tts_infer-cli loads (it has no --use_ema flag and always reads the EMA slot)."""

from __future__ import annotations

NAME = "export"
HELP = ("Write a new checkpoint whose EMA slot holds the chosen weight set (default: raw, what the Trainer's "
        "samples came from), for f5-tts_infer-cli; the input is never written.")


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help=".pt or .safetensors file (opened read-only)")
    parser.add_argument("out", metavar="OUT", help="the new .pt file (never an existing file)")
    parser.add_argument("--weights", choices=["raw", "ema"], default="raw",
                        help="the set to export (default raw; raw is the online model the Trainer samples from)")
    parser.add_argument("--for", dest="for_", choices=["infer-cli"], default="infer-cli",
                        help="the loader it is for: infer-cli reads the EMA slot (load_checkpoint(use_ema=True))")


def execute(args, console) -> int:
    from f5_parity.engine.run import export

    done = export(args.request, validated=True)
    console.print(f"wrote {done.out}: the {done.weights} set ({done.tensors} tensors) in {' and '.join(done.slots)}; "
                  f"{args.request.checkpoint} unchanged (sha256 {done.source_sha256[:16]})", highlight=False)
    console.print(f"use it: f5-tts_infer-cli -p {done.out} ... (it loads the {done.weights} set)", highlight=False)
    return 0
