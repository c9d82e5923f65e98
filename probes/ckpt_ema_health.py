"""EMA health: how far the EMA sits from the raw weights and how much of the fine-tune it holds."""

from __future__ import annotations

from f5_parity.checkpoint.ema import ema_health
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab

SHARE_MIN = 0.5  # below this the EMA is mostly the pretrained model


def check(ctx: ProbeContext) -> ProbeResult:
    ck = ctx["checkpoint"]
    # Text-embedding rows are named by the vocab the model was trained with, when the user gave one.
    vocab_file = ctx.get("train_vocab") or ctx.get("vocab")
    chars = analyse_vocab(vocab_file).tokens if vocab_file else None
    h = ema_health(ck, chars)
    metrics = {
        "ema_step": h.ema_step,
        "update": h.update,
        "inherited_step": h.inherited_step,
        "share": h.share,
        "rel_l2": h.overall.rel_l2 if h.overall else None,
        "text_rows_rel_l2": h.text_rows["rel_l2"] if h.text_rows else None,
        "examined_bytes": h.examined_bytes,
    }
    for g in h.groups:
        metrics[f"rel_l2[{g.group}]"] = g.rel_l2
    evidence = h.to_dict()
    if h.mostly_pretrained:
        return ProbeResult(PROBE.id, Status.WARN, h.verdict, metrics=metrics, evidence=evidence,
                           threshold={"share_min": SHARE_MIN}, margin=h.share - SHARE_MIN,
                           fix="infer with use_ema=False (F5TTS(..., use_ema=False) / load_model(..., use_ema=False)), "
                               "or fine-tune longer; a fresh EMA (step reset) would track the fine-tune from the start")
    margin = h.share - SHARE_MIN if h.share is not None else None
    fix = None
    if not h.has_ema:
        fix = "infer with use_ema=False"
    elif not h.has_raw and h.ema_step:
        fix = (f"when fine-tuning from this file, expect the EMA to lag: it holds "
               f"{h.share_table.get(25000, 0):.0%} of the fine-tune after 25k updates; compare use_ema=True/False")
    return ProbeResult(PROBE.id, Status.INFO, h.verdict, metrics=metrics, evidence=evidence,
                       threshold={"share_min": SHARE_MIN} if h.share is not None else None, margin=margin, fix=fix)


PROBE = Probe(
    id="ckpt.ema_health",
    title="EMA health",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=40,
)
