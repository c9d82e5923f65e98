"""The architecture the weights reveal, matched against f5-tts's shipped configs and a given config."""

from __future__ import annotations

from f5_parity.checkpoint.loads import architecture, match_shipped

from f5_parity.checkpoint.architecture import match_config
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status


def _describe(arch) -> str:
    s = arch.settings
    keys = ("dim", "depth", "heads", "ff_mult", "text_dim", "conv_layers", "qk_norm", "long_skip_connection",
            "skip_connect_type", "dim_head")
    body = " ".join(f"{k}={s[k]}" for k in keys if k in s)
    vocab = f", vocab {arch.text_num_embeds} (+1 filler row)" if arch.text_num_embeds is not None else ""
    return f"{arch.backbone} {body}, mel_dim={arch.mel_dim}{vocab}"


def _diffs(m) -> str:
    return ", ".join(f"{d['setting']} {d['weights']} in the weights vs {d['config']}" for d in m.differences)


def check(ctx: ProbeContext) -> ProbeResult:
    ck = ctx["checkpoint"]
    arch = architecture(ck)
    shipped = match_shipped(arch)
    matching = [m.config for m in shipped if m.matches]
    cfg = ctx.get("config")
    given = match_config(arch, cfg) if cfg is not None else None
    evidence = {
        "architecture": arch.to_dict(),
        "shipped_configs": [m.to_dict() for m in shipped],
        "given_config": given.to_dict() if given else None,
        "unrevealed": arch.unrevealed,
        "note": "the weights cannot reveal these settings; only the behaviour probes of `parity-check run` settle them",
    }
    metrics = {"backbone": arch.backbone, **arch.settings, "mel_dim": arch.mel_dim,
               "text_num_embeds": arch.text_num_embeds, "shipped_matches": matching,
               "given_config_matches": given.matches if given else None}
    if arch.backbone is None:
        return ProbeResult(PROBE.id, Status.FAIL, "no F5 backbone recognised in the weights (" +
                           "; ".join(arch.assumptions) + ")", metrics=metrics, evidence=evidence,
                           fix="pass an F5-TTS checkpoint (DiT, UNetT or MMDiT weights)")
    desc = _describe(arch)
    if len(matching) > 1:
        vals = {m.config: m.unrevealed_values for m in shipped if m.matches}
        differing = sorted({k for v in vals.values() for k in v if len({str(x.get(k)) for x in vals.values()}) > 1})
        ambiguity = (f"; matches {', '.join(matching)}, which differ only in {', '.join(differing) or 'nothing'} "
                     "— settings the weights cannot reveal")
    elif matching:
        ambiguity = f"; matches {matching[0]}"
    else:
        ambiguity = "; matches no config shipped with f5-tts"
    unrevealed = ", ".join(k for k in arch.unrevealed if k in ("pe_attn_head", "text_mask_padding", "mel_spec_type", "vocab order"))
    summary = f"{desc}{ambiguity}. Not in the weights: {unrevealed}"
    if given is not None and not given.matches:
        return ProbeResult(PROBE.id, Status.FAIL, f"the weights do not fit --config {cfg.name}: {_diffs(given)}",
                           metrics=metrics, evidence=evidence,
                           fix=(f"use a config with the weights' settings ({desc})"
                                + (f", e.g. {matching[0]}" if matching else "")))
    if given is not None:
        return ProbeResult(PROBE.id, Status.INFO, f"{summary}; --config {cfg.name} fits the weights",
                           metrics=metrics, evidence=evidence,
                           fix="check pe_attn_head / text_mask_padding / mel_spec_type with `parity-check run`: "
                               "a wrong value loads without error")
    if not matching:
        return ProbeResult(PROBE.id, Status.WARN, summary, metrics=metrics, evidence=evidence,
                           fix="infer_cli and F5TTS() default to F5TTS_v1_Base: pass a YAML with these settings "
                               "(infer_cli --model_cfg, or --config here)")
    return ProbeResult(PROBE.id, Status.INFO, summary, metrics=metrics, evidence=evidence,
                       fix=("pass --config with the config the model was trained with: "
                            + " and ".join(matching) + " load the same weights and behave differently")
                       if len(matching) > 1 else None)


PROBE = Probe(
    id="ckpt.architecture",
    title="Architecture from the weights",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=20,
)
