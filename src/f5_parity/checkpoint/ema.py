"""EMA health: how far the EMA set sits from the raw weights, and why (ema_pytorch's decay and its inherited step)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
import torch

from f5_parity.checkpoint.file import CheckpointFile

# ema_pytorch's defaults, which f5's Trainer uses (it passes no ema_kwargs).
EMA_BETA, EMA_UPDATE_EVERY, EMA_UPDATE_AFTER_STEP = 0.9999, 10, 100
# --- EMA health ------------------------------------------------------------------------------------


def module_group(key: str) -> str:
    """Group a CFM key by module: time_embed, text_embed, input_embed, transformer_blocks, output, ..."""
    parts = key.removeprefix("transformer.").split(".")
    head = parts[0]
    if head in ("norm_out", "proj_out"):
        return "output"
    return head


@dataclass
class GroupDistance:
    group: str
    tensors: int
    parameters: int
    rel_l2: float  # ||ema - raw|| / ||raw||
    diff_norm: float
    raw_norm: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "tensors": self.tensors, "parameters": self.parameters,
                "rel_l2": self.rel_l2, "diff_norm": self.diff_norm, "raw_norm": self.raw_norm}


@dataclass
class EmaHealth:
    has_raw: bool
    has_ema: bool
    ema_step: int | None
    ema_initted: bool | None
    update: int | None
    inherited_step: int | None
    share: float | None  # estimated share of the fine-tuned weights inside the EMA
    updates_for_90: int | None  # fine-tune updates for the EMA to hold 90 % of the fine-tune
    overall: GroupDistance | None
    groups: list[GroupDistance]
    text_rows: dict[str, Any] | None
    verdict: str
    mostly_pretrained: bool
    examined_bytes: int = 0
    released_bytes: int = 0
    share_table: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "has_raw": self.has_raw,
            "has_ema": self.has_ema,
            "ema_step": self.ema_step,
            "ema_initted": self.ema_initted,
            "update": self.update,
            "inherited_step": self.inherited_step,
            "share": self.share,
            "updates_for_90_percent": self.updates_for_90,
            "overall": self.overall.to_dict() if self.overall else None,
            "groups": [g.to_dict() for g in self.groups],
            "text_rows": self.text_rows,
            "verdict": self.verdict,
            "mostly_pretrained": self.mostly_pretrained,
            "examined_bytes": self.examined_bytes,
            "released_bytes": self.released_bytes,
            "share_table": self.share_table,
            "ema_settings": {"beta": EMA_BETA, "update_every": EMA_UPDATE_EVERY,
                             "update_after_step": EMA_UPDATE_AFTER_STEP},
        }


def updates_for_share(target: float, beta: float = EMA_BETA, update_every: int = EMA_UPDATE_EVERY) -> int:
    """Fine-tune updates after which an inherited (decay-pinned) EMA holds `target` of the fine-tune."""
    return int(math.ceil(math.log(1 - target) / math.log(beta))) * update_every


def _sq(x: torch.Tensor) -> float:
    # accumulated in float64 without a float64 copy of the tensor (half the time of .double().pow(2).sum())
    return float(torch.linalg.vector_norm(x, dtype=torch.float64)) ** 2


def ema_health(ck: CheckpointFile, vocab_chars: list[str] | None = None, *, top_rows: int = 10) -> EmaHealth:
    """How far the EMA sits from the raw weights, and how much of the fine-tune it can hold.

    Streams tensor pairs one at a time and hands each one's pages back to the OS after reading it,
    so peak memory stays at one pair of tensors whatever the checkpoint size.
    """
    sets = ck.weight_sets()
    raw, ema = sets.get("raw"), sets.get("ema")
    step = ema.buffers.get("step") if ema else None
    initted = ema.buffers.get("initted") if ema else None
    step = int(step) if isinstance(step, (int, float, bool)) else None
    initted = bool(initted) if isinstance(initted, (int, float, bool)) else None
    update = ck.update
    inherited = step - update if step is not None and update is not None else None
    share = None
    if inherited is not None and update is not None and inherited > EMA_UPDATE_AFTER_STEP and update >= 0:
        share = ema_share(update, inherited_step=inherited, beta=EMA_BETA, update_every=EMA_UPDATE_EVERY,
                          update_after_step=EMA_UPDATE_AFTER_STEP)
    table = {n: ema_share(n, inherited_step=max(step or 0, EMA_UPDATE_AFTER_STEP + 1))
             for n in (10_000, 25_000, 50_000, 100_000)} if step else {}
    n90 = updates_for_share(0.9)

    groups: dict[str, list[float]] = {}
    text_rows = None
    examined = 0
    releaser = ck.releaser()
    if raw and ema:
        rk, ek = raw.cfm_keys(), ema.cfm_keys()
        for key in rk:
            if key not in ek or key.endswith("rotary_embed.inv_freq"):
                continue  # inv_freq is a constant buffer, the same in both
            mr, me = raw.meta[rk[key]], ema.meta[ek[key]]
            if mr.shape != me.shape or not mr.is_float:
                continue
            r, e = raw.tensor(rk[key]), ema.tensor(ek[key])
            rf, ef = r.float(), e.float()
            d2, r2 = _sq(ef - rf), _sq(rf)
            g = groups.setdefault(module_group(key), [0, 0, 0.0, 0.0])
            g[0] += 1
            g[1] += r.numel()
            g[2] += d2
            g[3] += r2
            if key.endswith("text_embed.text_embed.weight") and r.dim() == 2:
                row_d = (ef - rf).double().norm(dim=1)
                row_r = rf.double().norm(dim=1).clamp_min(1e-12)
                rel = (row_d / row_r).tolist()
                text_rows = _text_row_report(rel, vocab_chars, top_rows)
                text_rows["rel_l2"] = math.sqrt(d2 / r2) if r2 else 0.0
            examined += mr.nbytes + me.nbytes
            del rf, ef
            if releaser:
                releaser.release(r)
                releaser.release(e)
    gd = [GroupDistance(name, int(v[0]), int(v[1]), math.sqrt(v[2] / v[3]) if v[3] else 0.0, math.sqrt(v[2]),
                        math.sqrt(v[3])) for name, v in groups.items()]
    overall = None
    if gd:
        d2 = sum(g.diff_norm**2 for g in gd)
        r2 = sum(g.raw_norm**2 for g in gd)
        overall = GroupDistance("all", sum(g.tensors for g in gd), sum(g.parameters for g in gd),
                                math.sqrt(d2 / r2) if r2 else 0.0, math.sqrt(d2), math.sqrt(r2))

    verdict, mostly = _ema_verdict(raw is not None, ema is not None, step, update, inherited, share, overall, n90)
    return EmaHealth(raw is not None, ema is not None, step, initted, update, inherited, share, n90, overall, gd,
                     text_rows, verdict, mostly, examined, releaser.released_bytes if releaser else 0, table)


def _text_row_report(rel: list[float], vocab_chars: list[str] | None, top: int) -> dict[str, Any]:
    rows = len(rel)
    body = sorted(rel[1:]) if rows > 1 else []
    median = body[len(body) // 2] if body else 0.0
    order = sorted(range(1, rows), key=lambda i: -rel[i])[:top]

    def token(i: int) -> str | None:
        if vocab_chars is None or i - 1 >= len(vocab_chars):
            return None
        return vocab_chars[i - 1]

    outliers = [i for i in range(1, rows) if median > 0 and rel[i] > 3 * median]
    return {
        "rows": rows,
        "filler_row_rel_l2": rel[0],
        "median_row_rel_l2": median,
        "max_row_rel_l2": max(rel[1:]) if rows > 1 else 0.0,
        "outlier_rows": len(outliers),
        "outlier_rule": "row distance > 3x the median row",
        "farthest_rows": [{"row": i, "vocab_id": i - 1, "token": token(i), "rel_l2": rel[i]} for i in order],
    }


def _ema_verdict(has_raw, has_ema, step, update, inherited, share, overall, n90) -> tuple[str, bool]:
    dist = f"; EMA vs raw relative L2 distance {overall.rel_l2:.3f}" if overall else ""
    if not has_ema:
        return ("no EMA weights in this file: use_ema=True loaders (infer_cli, F5TTS) cannot use it; "
                "infer with use_ema=False", False)
    if not has_raw:
        extra = ""
        if step:
            extra = (f"; a fine-tune that starts from it inherits EMA step {step:,}, so after N updates its EMA "
                     f"holds only 1 - {EMA_BETA}^(N/{EMA_UPDATE_EVERY}) of the fine-tune "
                     f"({n90:,} updates for 90 %)")
        return f"EMA weights only (step {step if step is not None else 'unknown'}): nothing to compare{extra}", False
    if share is not None:
        pre = 1 - share
        head = (f"EMA step {step:,} = {inherited:,} inherited + {update:,} fine-tune updates; with decay {EMA_BETA} "
                f"applied every {EMA_UPDATE_EVERY} updates the EMA holds about {share:.0%} of the fine-tuned weights{dist}")
        if share < 0.5:
            return (f"the EMA is still about {pre:.0%} the pretrained model: infer with use_ema=False "
                    f"(or train ~{max(n90 - update, 0):,} more updates for the EMA to hold 90 %) — {head}", True)
        return f"the EMA holds most of the fine-tune ({share:.0%}): use_ema=True is sound — {head}", False
    if step is not None and update is not None:
        if inherited is not None and inherited <= EMA_UPDATE_AFTER_STEP:
            return (f"EMA step {step:,} matches update {update:,}: the EMA started with this run (no inherited "
                    f"pretraining lag){dist}", False)
        return f"EMA step {step:,} is below update {update:,}: the EMA was reset or replaced during the run{dist}", False
    return f"EMA step or update count unknown: the lag cannot be estimated{dist}", False


def ema_share(updates: int, *, inherited_step: int, beta: float = 0.9999, update_every: int = 10,
              update_after_step: int = 100) -> float:
    """Share of the fine-tuned weights inside an ema_pytorch EMA after `updates` fine-tune updates.

    With the EMA step inherited from pretraining (~1.2 M for the official models) the warm-up is long
    over, so the decay sits at `beta` and applies once every `update_every` updates.
    """
    applied = 0
    for step in range(inherited_step, inherited_step + updates):
        if step % update_every == 0 and step > update_after_step:
            applied += 1
    return 1.0 - beta**applied
