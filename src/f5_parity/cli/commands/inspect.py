"""`parity-check inspect CHECKPOINT`: the truth about a checkpoint file and what F5-TTS will do with it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError
from f5_parity.probe import ProbeContext, discover, run_group
from f5_parity.results import ProbeResult, Status, jsonable

NAME = "inspect"
HELP = ("Inspect a checkpoint without executing pickles: anatomy, architecture, what F5's loaders do with it, "
        "EMA health, vocab and text coverage.")
GROUP = "inspect"

_STYLE = {
    Status.PASS: "bold green",
    Status.FAIL: "bold red",
    Status.WARN: "bold yellow",
    Status.INFO: "cyan",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
}


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help=".pt or .safetensors file (opened read-only)")
    parser.add_argument("--config", metavar="NAME|YAML",
                        help="f5-tts config name (F5TTS_v1_Base, F5TTS_Base, ...) or a YAML in f5's schema")
    parser.add_argument("--vocab", metavar="FILE",
                        help="inference vocab (default: f5-tts's packaged vocab, as load_model uses)")
    parser.add_argument("--train-vocab", metavar="FILE", help="the vocab the model was trained with")
    parser.add_argument("--text", action="append", metavar="TEXT", help="a text to check against the vocab (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the findings as JSON")


@dataclass
class InspectReport:
    checkpoint: dict[str, Any]
    inputs: dict[str, Any]
    results: list[ProbeResult]
    broken_probes: list[dict[str, str]]
    context: ProbeContext | None = field(default=None, repr=False)  # the opened inputs, for reuse (not in JSON)

    @property
    def failed(self) -> bool:
        return any(r.status.failed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        import torch

        try:
            from importlib.metadata import version

            f5 = version("f5-tts")
        except Exception:  # pragma: no cover - reported, not required
            f5 = None
        return jsonable({
            "command": NAME,
            "checkpoint": self.checkpoint,
            "inputs": self.inputs,
            "versions": {"f5_tts": f5, "torch": torch.__version__},
            "results": [r.to_dict() for r in self.results],
            "broken_probes": self.broken_probes,
        })


def build_context(checkpoint: str | os.PathLike, config: str | None = None, vocab: str | None = None,
                  train_vocab: str | None = None, texts: list[str] | None = None) -> ProbeContext:
    """Open the inputs (raises InputError with one clear line for a bad one) into a probe context."""
    from f5_parity.checkpoint.file import load_config, open_checkpoint

    for label, f in (("--vocab", vocab), ("--train-vocab", train_vocab)):
        if f is not None and not Path(f).is_file():
            raise InputError(f"{label} {f}: no such file", "pass the path of a vocab.txt")
    ck = open_checkpoint(checkpoint)
    cfg = load_config(config) if config else None
    return ProbeContext(resources={
        "checkpoint": ck,
        "config": cfg,
        "vocab": Path(vocab) if vocab else None,
        "train_vocab": Path(train_vocab) if train_vocab else None,
        "texts": list(texts) if texts else None,
    })


def inspect_checkpoint(checkpoint: str | os.PathLike, config: str | None = None, vocab: str | None = None,
                       train_vocab: str | None = None, texts: list[str] | None = None,
                       on_result=None) -> InspectReport:
    """Run the inspect probes; `run` and the benchmark call this too."""
    ctx = build_context(checkpoint, config, vocab, train_vocab, texts)
    catalog = discover()
    results = run_group(GROUP, ctx, catalog=catalog, on_result=on_result)
    ck = ctx["checkpoint"]
    inputs = {
        "config": config,
        "vocab": vocab,
        "train_vocab": train_vocab,
        "texts": texts or [],
    }
    broken = [{"module": b.module, "reason": b.reason} for b in catalog.broken]
    return InspectReport(ck.summary(), inputs, results, broken, context=ctx)


def write_json(report: InspectReport, path: str | os.PathLike) -> Path:
    """Write atomically (a temporary file in the target folder, then a rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(report.to_dict(), f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, p)
    return p


def render(report: InspectReport, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    ck = report.checkpoint
    console.print(f"[bold]{escape(ck['path'])}[/]  {ck['format']}, {ck['bytes']:,} bytes, sha256 {ck['sha256']}",
                  soft_wrap=True)
    table = Table(show_lines=True, expand=False)
    table.add_column("probe", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("finding", overflow="fold")
    for r in report.results:
        finding = escape(r.summary)
        if r.fix and r.status in (Status.FAIL, Status.WARN, Status.ERROR, Status.INFO):
            finding += f"\n[bold]fix:[/] {escape(r.fix)}"
        table.add_row(r.probe, f"[{_STYLE[r.status]}]{r.status.value.upper()}[/]", finding)
    console.print(table)
    for b in report.broken_probes:
        console.print(f"[magenta]probe module failed to import:[/] {escape(b['module'])}: {escape(b['reason'])}")
    counts = {s: sum(r.status == s for r in report.results) for s in Status}
    line = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    verdict = "[bold red]FAILED[/]" if report.failed else "[bold green]PASSED[/]"
    console.print(f"{verdict} ({line})")


def execute(args, console) -> int:
    report = inspect_checkpoint(args.checkpoint, args.config, args.vocab, args.train_vocab, args.text)
    render(report, console)
    if args.json:
        p = write_json(report, args.json)
        console.print(f"JSON: {p}")
    return 1 if report.failed else 0
