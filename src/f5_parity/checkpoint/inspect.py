"""`inspect` as an engine call: open the inputs, run the inspect probes, return one typed report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError
from f5_parity.probe import ProbeContext, discover, run_group
from f5_parity.results import ProbeResult, jsonable

GROUP = "inspect"


@dataclass
class InspectReport:
    checkpoint: dict[str, Any]
    inputs: dict[str, Any]
    results: list[ProbeResult]
    broken_probes: list[dict[str, str]]
    versions: dict[str, Any] = field(default_factory=dict)
    context: ProbeContext | None = field(default=None, repr=False)  # the opened inputs, for reuse (not in JSON)

    @property
    def failed(self) -> bool:
        return any(r.status.failed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "command": "inspect",
            "checkpoint": self.checkpoint,
            "inputs": self.inputs,
            "versions": self.versions,
            "results": [r.to_dict() for r in self.results],
            "broken_probes": self.broken_probes,
        })


def build_context(checkpoint: str | os.PathLike, config: str | None = None, vocab: str | None = None,
                  train_vocab: str | None = None, texts: list[str] | None = None, *, opened=None) -> ProbeContext:
    """Open the inputs (raises InputError with one clear line for a bad one) into a probe context."""
    from f5_parity.checkpoint.architecture import load_config
    from f5_parity.checkpoint.file import open_checkpoint

    for label, f in (("--vocab", vocab), ("--train-vocab", train_vocab)):
        if f is not None and not Path(f).is_file():
            raise InputError(f"{label} {f}: no such file", "pass the path of a vocab.txt")
    ck = opened if opened is not None else open_checkpoint(checkpoint)  # `run` hands its opened file down
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
                       on_result=None, opened=None) -> InspectReport:
    """Run the inspect probes; `run` and the benchmark call this too (`run` with the file it opened)."""
    ctx = build_context(checkpoint, config, vocab, train_vocab, texts, opened=opened)
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
    return InspectReport(ck.summary(), inputs, results, broken, versions=_versions(), context=ctx)


def _versions() -> dict[str, Any]:
    import torch
    from importlib.metadata import PackageNotFoundError, version

    try:
        f5 = version("f5-tts")
    except PackageNotFoundError:  # reported, not required
        f5 = None
    return {"f5_tts": f5, "torch": torch.__version__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InspectReport":
        return cls(checkpoint=d["checkpoint"], inputs=d["inputs"],
                   results=[ProbeResult.from_dict(r) for r in d["results"]], broken_probes=d.get("broken_probes") or [],
                   versions=d.get("versions") or {})
