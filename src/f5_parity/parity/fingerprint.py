"""Fingerprint the training settings a checkpoint cannot state: the flow-matching loss knows them.

For settings the weights cannot reveal (pe_attn_head, text_mask_padding, vocab order, mel type, which
weight set), the checkpoint's own training loss on the user's audio and text is lowest for the
settings it was trained with. Every candidate sees identical noise, time and mask draws (the real
CFM.forward, seeded per draw for torch and Python's `random`), so differences between candidates are
paired; the margin of the winner is judged against the spread of those paired differences.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from typing import Any

import torch

from f5_parity.f5.configs import V0_FLAGS, V1_FLAGS
from f5_parity.cases.case import Case
from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import ModelPool, UnbuildableSpec, apply_unicode, frontend, load_reference

V1, V0 = V1_FLAGS, V0_FLAGS


@dataclass
class Candidate:
    family: str
    label: str
    spec: PathSpec


@dataclass
class CandidateLoss:
    family: str
    label: str
    losses: list[float] | None  # one per draw (mean over cases); None when it cannot be built
    reason: str = ""

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.losses) if self.losses else None

    @property
    def spread(self) -> float | None:
        return statistics.pstdev(self.losses) if self.losses and len(self.losses) > 1 else 0.0 if self.losses else None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "label": self.label, "loss": self.mean, "spread": self.spread,
                "draws": self.losses, "reason": self.reason}


@dataclass
class FamilyVerdict:
    family: str
    winner: str | None
    margin: float | None  # mean paired loss difference runner-up minus winner
    margin_spread: float | None  # std of that paired difference over draws
    decisive: bool
    candidates: list[CandidateLoss] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "winner": self.winner, "margin": self.margin, "margin_spread": self.margin_spread,
                "decisive": self.decisive, "candidates": [c.to_dict() for c in self.candidates]}


def flow_matching_losses(spec: PathSpec, cases: list[Case], pool: ModelPool, draws: int, seed: int) -> list[float]:
    """The real CFM.forward loss per draw (mean over cases), eval mode, identical draws for any spec."""
    from f5_tts.model.modules import MelSpec
    from f5_tts.model.utils import list_str_to_idx

    from f5_parity.f5.vocab import read_vocab_chars

    model = pool.model(spec)
    dtype = next(model.parameters()).dtype
    vocab = {c: i for i, c in enumerate(read_vocab_chars(spec.locate("vocab", "path")))}
    mel = MelSpec(**spec.value("mel"))
    inputs = []
    for case in cases:
        ref = load_reference(spec, case)
        text = frontend(apply_unicode(case.ref_text, spec.value("text").get("unicode", "as-is")), "pinyin")
        inputs.append((mel(ref.wav).permute(0, 2, 1).to(pool.device, dtype), list_str_to_idx([text], vocab).to(pool.device)))
    losses = []
    model.eval()
    with torch.inference_mode():
        for d in range(draws):
            per_case = []
            for i, (x1, tokens) in enumerate(inputs):
                torch.manual_seed(seed * 1_000_003 + d * 1009 + i)
                random.seed(seed * 1_000_003 + d * 1009 + i)  # CFM.forward's CFG drops use Python's random
                loss, _, _ = model(x1, tokens)
                per_case.append(float(loss))
            losses.append(statistics.fmean(per_case))
    return losses


def judge(family: str, results: list[CandidateLoss]) -> FamilyVerdict:
    built = sorted((r for r in results if r.losses), key=lambda r: r.mean)
    if not built:
        return FamilyVerdict(family, None, None, None, False, results)
    if len(built) == 1:
        return FamilyVerdict(family, built[0].label, None, None, False, results)
    best, second = built[0], built[1]
    diffs = [b - a for a, b in zip(best.losses, second.losses)]
    margin = statistics.fmean(diffs)
    spread = statistics.pstdev(diffs) if len(diffs) > 1 else 0.0
    return FamilyVerdict(family, best.label, margin, spread, margin > spread, results)


def candidates_for(base: PathSpec, *, vocab_files: dict[str, str], include_ema: bool) -> dict[str, list[Candidate]]:
    """Candidate specs per family, each differing from `base` in that family only."""
    from f5_parity.f5.vocab import read_vocab_chars
    from f5_parity.files import sha256_file

    fam: dict[str, list[Candidate]] = {}
    arch = base.value("arch")
    pe_flip = {"pe_attn_head": None if arch.get("pe_attn_head") == 1 else 1}
    tmp_flip = {"text_mask_padding": not bool(arch.get("text_mask_padding"))}
    fam["arch"] = [
        Candidate("arch", "v1 flags (pe_attn_head=None, text_mask_padding=True)", base.with_value("arch", **V1)),
        Candidate("arch", "v0 flags (pe_attn_head=1, text_mask_padding=False)", base.with_value("arch", **V0)),
    ]
    if arch.get("pe_attn_head") in (1, None) and isinstance(arch.get("text_mask_padding"), bool):
        fam["arch"] += [
            Candidate("arch", f"pe_attn_head={pe_flip['pe_attn_head']} alone flipped", base.with_value("arch", **pe_flip)),
            Candidate("arch", f"text_mask_padding={tmp_flip['text_mask_padding']} alone flipped",
                      base.with_value("arch", **tmp_flip)),
        ]
    fam["vocab"] = []
    for label, path in vocab_files.items():
        value = {"sha256": sha256_file(path), "size": len(read_vocab_chars(path))}
        fam["vocab"].append(Candidate("vocab", label, base.with_value("vocab", locator={"path": str(path)}, **value)))
    fam["mel"] = [Candidate("mel", f"{t} mel features", base.with_value("mel", mel_spec_type=t)) for t in ("vocos", "bigvgan")]
    fam["weights"] = [Candidate("weights", "raw weights", base.with_value("weights", set="raw"))]
    if include_ema:
        fam["weights"].append(Candidate("weights", "EMA weights", base.with_value("weights", set="ema")))
    return fam


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in cands:
        key = repr(c.spec.values)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


FAMILIES = ("arch", "vocab", "mel", "weights")


def fingerprint(base: PathSpec, cases: list[Case], *, vocab_files: dict[str, str], include_ema: bool,
                draws: int = 8, seed: int = 0, pool: ModelPool | None = None,
                families: tuple[str, ...] = FAMILIES) -> list[FamilyVerdict]:
    """Judge each family in turn; later families are judged with the earlier winners in place."""
    pool = pool or ModelPool("cpu")
    verdicts = []
    current = base
    for family in families:
        cands = _dedupe(candidates_for(current, vocab_files=vocab_files, include_ema=include_ema)[family])
        results = []
        for c in cands:
            try:
                results.append(CandidateLoss(family, c.label, flow_matching_losses(c.spec, cases, pool, draws, seed)))
            except UnbuildableSpec as exc:
                results.append(CandidateLoss(family, c.label, None, f"cannot build: {exc}"))
        verdict = judge(family, results)
        verdicts.append(verdict)
        if verdict.winner:
            current = next(c.spec for c in cands if c.label == verdict.winner)
    return verdicts


def winning_spec(base: PathSpec, verdicts: list[FamilyVerdict], *, vocab_files: dict[str, str], include_ema: bool) -> PathSpec:
    """`base` with each family's winner applied (what `run` uses when --train-config is absent)."""
    current = base
    for v in verdicts:
        if not v.winner:
            continue
        cands = candidates_for(current, vocab_files=vocab_files, include_ema=include_ema)[v.family]
        current = next(c.spec for c in cands if c.label == v.winner)
    return PathSpec(current.label, current.values, current.locators, frozenset())
