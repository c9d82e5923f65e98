"""Fingerprint the training settings a checkpoint cannot state: the flow-matching loss knows them.

For settings the weights cannot reveal (pe_attn_head, text_mask_padding, vocab order, mel type, which
weight set), the checkpoint's own training loss on the user's audio and text is lowest for the
settings it was trained with. Every candidate sees identical noise, time and mask draws (the real
CFM.forward, seeded per draw for torch and Python's `random`), so differences between candidates are
paired. A family is decided at a stated significance: the lowest-loss candidate must beat every other
one in a paired t-test over the draws at p < alpha / looks (the draws are examined up to `looks` times,
so each look gets its share of alpha: Bonferroni over the looks). Draws are added `step` at a time up
to a cap until the family is decided; if the cap is hit first, the family is "not decided" and says so,
with the p-value and the effect size (Cohen's d_z of the paired differences) it reached.
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


ALPHA = 0.01  # the significance a family is decided at
MAX_DRAWS_FACTOR = 5  # default cap: 5x the first batch of draws


@dataclass
class FamilyVerdict:
    family: str
    winner: str | None  # the lowest mean loss; trust it only when `decided`
    margin: float | None  # mean paired loss difference runner-up minus winner
    margin_spread: float | None  # std of that paired difference over draws
    decisive: bool  # decided at the stated significance (the same as `decided`)
    candidates: list[CandidateLoss] = field(default_factory=list)
    p_value: float | None = None  # the largest paired-test p of the winner against any other candidate
    effect_size: float | None = None  # Cohen's d_z of the winner against the runner-up
    draws: int = 0
    alpha: float = ALPHA
    alpha_per_look: float = ALPHA
    looks: int = 1

    @property
    def decided(self) -> bool:
        return self.decisive

    @property
    def statement(self) -> str:
        if self.winner is None:
            return "not decided: no candidate could be built"
        if self.p_value is None:
            return f"not decided: only one candidate ({self.winner}) could be built"
        if self.decisive:
            return (f"decided: {self.winner} (p = {self.p_value:.3g} < {self.alpha_per_look:.3g} = {self.alpha} over "
                    f"{self.looks} look{'s' if self.looks != 1 else ''}; effect size d_z {self.effect_size:.2f}; "
                    f"{self.draws} draws)")
        return (f"not decided: {self.winner} leads but p = {self.p_value:.3g} is not below {self.alpha_per_look:.3g} "
                f"after {self.draws} draws (effect size d_z {self.effect_size:.2f})")

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "winner": self.winner if self.decisive else None, "leader": self.winner,
                "decided": self.decisive, "statement": self.statement, "p_value": self.p_value,
                "effect_size": self.effect_size, "draws": self.draws, "alpha": self.alpha,
                "alpha_per_look": self.alpha_per_look, "looks": self.looks,
                "test": "paired t-test over draws, two-sided, winner against every other candidate",
                "margin": self.margin, "margin_spread": self.margin_spread,
                "decisive": self.decisive, "candidates": [c.to_dict() for c in self.candidates]}


def flow_matching_losses(spec: PathSpec, cases: list[Case], pool: ModelPool, draws: int, seed: int,
                         first_draw: int = 0) -> list[float]:
    """The real CFM.forward loss per draw (mean over cases), eval mode, identical draws for any spec."""
    return [statistics.fmean(row) for row in flow_matching_loss_table(spec, cases, pool, draws, seed, first_draw)]


def flow_matching_loss_table(spec: PathSpec, cases: list[Case], pool: ModelPool, draws: int, seed: int,
                             first_draw: int = 0) -> list[list[float]]:
    """The real CFM.forward loss per draw and case ([draw][case]), eval mode (dropout off).

    Draw d of case i seeds torch (noise, time, span mask) and Python's `random` (CFG drops) from
    (seed, d, i) alone, so two specs or two checkpoints see identical draws: their differences are paired."""
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
        for d in range(first_draw, first_draw + draws):
            per_case = []
            for i, (x1, tokens) in enumerate(inputs):
                torch.manual_seed(seed * 1_000_003 + d * 1009 + i)
                random.seed(seed * 1_000_003 + d * 1009 + i)  # CFM.forward's CFG drops use Python's random
                loss, _, _ = model(x1, tokens)
                per_case.append(float(loss))
            losses.append(per_case)
    return losses


def judge(family: str, results: list[CandidateLoss], *, alpha: float = ALPHA, looks: int = 1) -> FamilyVerdict:
    from f5_parity.scoring.stats import paired_test

    per_look = alpha / max(1, looks)
    built = sorted((r for r in results if r.losses), key=lambda r: r.mean)
    draws = max((len(r.losses) for r in built), default=0)
    common = dict(alpha=alpha, alpha_per_look=per_look, looks=looks, draws=draws)
    if not built:
        return FamilyVerdict(family, None, None, None, False, results, **common)
    if len(built) == 1:
        return FamilyVerdict(family, built[0].label, None, None, False, results, **common)
    best, second = built[0], built[1]
    diffs = [b - a for a, b in zip(best.losses, second.losses)]
    margin = statistics.fmean(diffs)
    spread = statistics.pstdev(diffs) if len(diffs) > 1 else 0.0
    tests = [paired_test(best.losses, other.losses) for other in built[1:]]
    p_values = [t.p_value for t in tests]
    p = None if any(v is None for v in p_values) else max(p_values)
    decided = p is not None and p < per_look and all((t.mean_difference or 0) > 0 for t in tests)
    return FamilyVerdict(family, best.label, margin, spread, decided, results, p_value=p,
                         effect_size=tests[0].effect_size, **common)


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
                families: tuple[str, ...] = FAMILIES, max_draws: int | None = None, step: int | None = None,
                alpha: float = ALPHA) -> list[FamilyVerdict]:
    """Judge each family in turn; later families are judged with the earlier leaders in place (a family that
    is not decided still hands on its lowest-loss candidate: the best guess beats a known-wrong start).

    Each family starts with `draws` draws and gains `step` (default `draws`) more while it is not decided,
    up to `max_draws` (default 5x `draws`)."""
    pool = pool or ModelPool("cpu")
    max_draws = max(draws, max_draws if max_draws is not None else MAX_DRAWS_FACTOR * draws)
    step = max(1, step or draws)
    looks = 1 + -(-(max_draws - draws) // step)
    verdicts = []
    current = base
    for family in families:
        cands = _dedupe(candidates_for(current, vocab_files=vocab_files, include_ema=include_ema)[family])
        losses: dict[str, list[float] | None] = {}
        reasons: dict[str, str] = {}
        done = 0
        while True:
            batch = draws if done == 0 else min(step, max_draws - done)
            for c in cands:
                if losses.get(c.label, []) is None:
                    continue
                try:
                    more = flow_matching_losses(c.spec, cases, pool, batch, seed, first_draw=done)
                    losses[c.label] = losses.get(c.label, []) + more
                except UnbuildableSpec as exc:
                    losses[c.label], reasons[c.label] = None, f"cannot build: {exc}"
            done += batch
            results = [CandidateLoss(family, c.label, losses.get(c.label), reasons.get(c.label, "")) for c in cands]
            verdict = judge(family, results, alpha=alpha, looks=looks)
            if verdict.decisive or verdict.p_value is None or done >= max_draws:
                break
        verdicts.append(verdict)
        if verdict.winner:  # later families are judged with the best guess in place, decided or not
            current = next(c.spec for c in cands if c.label == verdict.winner)
    return verdicts


def winning_spec(base: PathSpec, verdicts: list[FamilyVerdict], *, vocab_files: dict[str, str], include_ema: bool) -> PathSpec:
    """`base` with each family's winner applied (what `run` uses when --train-config is absent)."""
    current = base
    for v in verdicts:
        if not v.winner or not v.decisive:
            continue
        cands = candidates_for(current, vocab_files=vocab_files, include_ema=include_ema)[v.family]
        current = next(c.spec for c in cands if c.label == v.winner)
    return PathSpec(current.label, current.values, current.locators, frozenset())
