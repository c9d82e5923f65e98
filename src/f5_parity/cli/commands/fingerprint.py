"""`parity-check fingerprint CHECKPOINT`: which training settings the checkpoint's own loss prefers."""

from __future__ import annotations

import argparse

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


def execute(args, console) -> int:
    from rich.markup import escape
    from rich.table import Table

    from f5_parity.engine.run import fingerprint

    with console.status("computing the flow-matching loss of each candidate..."):
        done = fingerprint(args.request, validated=True)
    for line in done.skipped:
        console.print(f"[yellow]{escape(line)}[/]")
    for v in done.verdicts:
        table = Table(title=f"{v.family}: {v.statement}")
        for col in ("candidate", "loss", "spread over draws"):
            table.add_column(col)
        for c in sorted(v.candidates, key=lambda c: (c.mean is None, c.mean or 0)):
            table.add_row(c.label, "-" if c.mean is None else f"{c.mean:.4f}",
                          c.reason or ("-" if c.spread is None else f"{c.spread:.4f}"))
        console.print(table)
    return 0
