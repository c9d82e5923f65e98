"""Anatomy of the checkpoint file: keys, weight sets, counts, dtypes, update/EMA step, prefixes, sha256."""

from __future__ import annotations

from f5_parity.checkpoint.file import anatomy
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def _fix(facts: dict) -> str | None:
    fixes = []
    wrappers = [p for p in facts["prefixes"] if p in ("module.", "_orig_mod.")]
    if wrappers:
        fixes.append(
            f"strip the {' and '.join(map(repr, wrappers))} prefix before F5 sees the weights: "
            "{k.replace('module.', '').replace('_orig_mod.', ''): v for k, v in sd.items()}"
        )
    if not all(facts["transformer_prefix"].values()):
        fixes.append("keys lack 'transformer.': this is a backbone state dict; prefix every key with 'transformer.'")
    if facts["file"]["format"] != facts["file"]["extension_format"]:
        fixes.append(f"rename the file to end in .{'safetensors' if facts['file']['format'] == 'safetensors' else 'pt'}")
    if any("legacy (non-zip)" in n for n in facts["notes"]):
        fixes.append("re-save it with a current torch.save (zip format) so it can be memory-mapped")
    return "; ".join(fixes) or None


def check(ctx: ProbeContext) -> ProbeResult:
    ck = ctx["checkpoint"]
    facts = anatomy(ck)
    sets = facts["weight_sets"]
    parts = []
    for name, ws in sets.items():
        dtypes = "/".join(sorted(ws["dtypes"]))
        pre = f", prefix {'+'.join(ws['prefixes'])}" if ws["prefixes"] else ""
        parts.append(f"{name} ({ws['tensors']} tensors, {ws['parameters']:,} params, {dtypes}{pre})")
    extra = []
    if facts["update"] is not None:
        extra.append(f"update {facts['update']:,}")
    if facts["ema_step"] is not None:
        extra.append(f"EMA step {facts['ema_step']:,}" + ("" if facts["ema_initted"] else " (not initted)"))
    if facts["optimizer"]:
        extra.append(f"optimizer state {facts['optimizer'].get('state_bytes', 0) / 1e6:,.1f} MB (not read)")
    if facts["legacy_keys"]:
        extra.append(f"legacy keys {facts['legacy_keys']}")
    summary = f"{facts['layout']}: {'; '.join(parts)}" + (f"; {', '.join(extra)}" if extra else "")
    metrics = {
        "bytes": facts["file"]["bytes"],
        "weight_sets": sorted(sets),
        "update": facts["update"],
        "ema_step": facts["ema_step"],
        "ema_initted": facts["ema_initted"],
    }
    for name, ws in sets.items():
        metrics[f"{name}_tensors"] = ws["tensors"]
        metrics[f"{name}_parameters"] = ws["parameters"]
        metrics[f"{name}_dtypes"] = ws["dtypes"]
    return ProbeResult(PROBE.id, Status.INFO, summary, metrics=metrics, evidence=facts, fix=_fix(facts))


PROBE = Probe(
    id="ckpt.anatomy",
    title="Checkpoint anatomy",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=10,
)
