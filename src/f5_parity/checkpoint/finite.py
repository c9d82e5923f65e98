"""NaN and infinite values in a checkpoint's weight sets: a diverged run saves them without a word, and
every path then produces NaN audio whatever its settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from f5_parity.checkpoint.file import CheckpointFile


@dataclass
class NonFinite:
    weight_set: str
    tensors: int  # float tensors examined
    values: int  # float values examined
    nan: int
    inf: int
    bad_tensors: list[dict[str, Any]] = field(default_factory=list)  # the first few: key, nan, inf, numel

    @property
    def clean(self) -> bool:
        return self.nan == 0 and self.inf == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"clean": self.clean}


def nonfinite_counts(ck: CheckpointFile, *, examples: int = 5, chunk: int = 1 << 24) -> dict[str, NonFinite]:
    """Per weight set ('raw', 'ema'): how many float values are NaN or infinite, and in which tensors.

    Tensors are read from the memory map in chunks and their pages handed back, so memory stays flat.
    """
    releaser = ck.releaser()
    out: dict[str, NonFinite] = {}
    for name, ws in ck.weight_sets().items():
        report = NonFinite(name, 0, 0, 0, 0)
        for key, meta in ws.meta.items():
            if not meta.is_float:
                continue
            t = ws.tensor(key)
            flat = t.reshape(-1)
            nan = inf = 0
            for start in range(0, flat.numel(), chunk):
                part = flat[start:start + chunk]
                # One pass decides the usual case: a NaN or an inf makes the sum NaN or inf, so a finite sum
                # means a clean chunk. A non-finite sum (a bad value, or finite values overflowing) is counted.
                # fp16/bf16 are summed in fp32, where their values cannot overflow a 16M-value chunk.
                if bool(torch.isfinite(part.sum(dtype=torch.float32 if part.element_size() < 4 else None))):
                    continue
                nan += int(torch.isnan(part).sum())
                inf += int(torch.isinf(part).sum())
            report.tensors += 1
            report.values += flat.numel()
            report.nan += nan
            report.inf += inf
            if (nan or inf) and len(report.bad_tensors) < examples:
                report.bad_tensors.append({"key": key, "nan": nan, "inf": inf, "numel": flat.numel()})
            if releaser:
                releaser.release(t)
        out[name] = report
    return out
