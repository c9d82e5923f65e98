"""Architecture from the weights' shapes, and how it matches a config (shipped or the user's)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from f5_parity.errors import InputError, syntax_error_line
from f5_parity.f5.configs import backbone_class
from f5_parity.f5.defaults import utils_infer_constant
from f5_parity.checkpoint.file import DIM_HEAD_DEFAULT, TensorMeta

# --- Architecture from the weights ----------------------------------------------------------------

# Settings the weights cannot reveal: why each matters (f5-tts 1.1.22: keys and shapes are the same either way).
UNREVEALED = {
    "pe_attn_head": "RoPE on the first head only (v0: 1) or on all heads (v1: null): no error either way",
    "text_mask_padding": "filler positions masked in the text ConvNeXt (v1: True) or not (v0: False): no error",
    "text_embedding_average_upsampling": "text upsampling mode (DiT only, default False): no error",
    "mel_spec_type": "vocos or bigvgan mel features: no error, wrong features",
    "mel parameters": "load_model uses utils_infer's globals (24 kHz, 100 mels, hop 256), never the YAML",
    "vocab order": "same size, another order loads fine and maps every id to another character",
    "attn_mask_enabled": "attention masking of batch padding: no error",
}


@dataclass
class Architecture:
    backbone: str | None  # 'DiT' | 'UNetT' | 'MMDiT' | None when unrecognised
    settings: dict[str, Any]  # constructor kwargs the weights reveal (dim, depth, heads, ...)
    mel_dim: int | None
    text_num_embeds: int | None  # vocab size the embedding was built for (rows - 1)
    embedding_rows: int | None
    evidence: dict[str, str]  # setting -> the key/shape it was read from
    unrevealed: dict[str, str]  # setting -> why it matters
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "settings": self.settings,
            "mel_dim": self.mel_dim,
            "text_num_embeds": self.text_num_embeds,
            "embedding_rows": self.embedding_rows,
            "evidence": self.evidence,
            "unrevealed": self.unrevealed,
            "assumptions": self.assumptions,
        }


def _block_indices(keys: Iterable[str], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in keys if (m := pat.match(k))})


def infer_architecture(meta: dict[str, TensorMeta]) -> Architecture:
    """Read the backbone and its sizes from key names and shapes (keys with or without 'transformer.')."""
    t = {k.removeprefix("transformer."): m for k, m in meta.items()}
    ev: dict[str, str] = {}
    s: dict[str, Any] = {}
    assumptions: list[str] = []

    def shape(key: str) -> tuple[int, ...] | None:
        return t[key].shape if key in t else None

    if any(k.startswith("audio_embed.") for k in t) or "transformer_blocks.0.attn_norm_x.linear.weight" in t:
        backbone, blocks, attn, ff = "MMDiT", "transformer_blocks.", "transformer_blocks.0.attn.", "transformer_blocks.0.ff_x.ff.0.0.weight"
    elif any(k.startswith("layers.") for k in t):
        backbone, blocks, attn, ff = "UNetT", "layers.", "layers.0.2.", "layers.0.4.ff.0.0.weight"
    elif any(k.startswith("transformer_blocks.") for k in t):
        backbone, blocks, attn, ff = "DiT", "transformer_blocks.", "transformer_blocks.0.attn.", "transformer_blocks.0.ff.ff.0.0.weight"
    else:
        return Architecture(None, {}, None, None, None, {}, dict(UNREVEALED),
                            ["no f5 backbone recognised (no transformer_blocks.* or layers.* keys)"])

    proj = shape("proj_out.weight")
    mel_dim, dim = (proj[0], proj[1]) if proj else (None, None)
    if proj:
        ev["dim"] = ev["mel_dim"] = f"proj_out.weight {list(proj)}"
    s["dim"] = dim
    depth = _block_indices(t, blocks)
    s["depth"] = len(depth)
    ev["depth"] = f"{len(depth)} {blocks}N blocks"

    if "rotary_embed.inv_freq" in t:
        dim_head = 2 * t["rotary_embed.inv_freq"].numel
        ev["dim_head"] = f"rotary_embed.inv_freq {list(t['rotary_embed.inv_freq'].shape)} (dim_head / 2)"
    elif attn + "q_norm.weight" in t:
        dim_head = t[attn + "q_norm.weight"].numel
        ev["dim_head"] = f"{attn}q_norm.weight {list(t[attn + 'q_norm.weight'].shape)}"
    else:
        dim_head = DIM_HEAD_DEFAULT
        assumptions.append(f"dim_head assumed {DIM_HEAD_DEFAULT} (f5's default; no rotary inv_freq or q_norm key)")
    q = shape(attn + "to_q.weight")
    if q:
        s["heads"] = q[0] // dim_head
        ev["heads"] = f"{attn}to_q.weight {list(q)} / dim_head {dim_head}"
    if dim_head != DIM_HEAD_DEFAULT:
        s["dim_head"] = dim_head
    f = shape(ff)
    if f and dim:
        mult = f[0] / dim
        s["ff_mult"] = int(mult) if mult.is_integer() else mult
        ev["ff_mult"] = f"{ff} {list(f)} / dim {dim}"

    emb = shape("text_embed.text_embed.weight")
    rows = emb[0] if emb else None
    if emb:
        ev["text_num_embeds"] = f"text_embed.text_embed.weight {list(emb)} (vocab + 1 filler row)"
        if backbone != "MMDiT":
            s["text_dim"] = emb[1]
            ev["text_dim"] = ev["text_num_embeds"]
    if backbone != "MMDiT":
        conv = _block_indices(t, "text_embed.text_blocks.")
        s["conv_layers"] = len(conv)
        ev["conv_layers"] = f"{len(conv)} text_embed.text_blocks.N blocks"
    s["qk_norm"] = "rms_norm" if attn + "q_norm.weight" in t else None
    ev["qk_norm"] = f"{attn}q_norm.weight {'present' if s['qk_norm'] else 'absent'}"
    unrevealed = dict(UNREVEALED)
    if backbone == "DiT":
        s["long_skip_connection"] = "long_skip_connection.weight" in t
        ev["long_skip_connection"] = f"long_skip_connection.weight {'present' if s['long_skip_connection'] else 'absent'}"
    else:
        unrevealed.pop("text_embedding_average_upsampling")
    if backbone == "UNetT":
        half = [i for i in depth if i >= len(depth) // 2]
        if half and all(f"layers.{i}.0.weight" in t for i in half):
            s["skip_connect_type"] = "concat"
            ev["skip_connect_type"] = "layers.N.0.weight (skip projection) in the later half"
        else:
            unrevealed["skip_connect_type"] = "'add' and 'none' hold the same weights: no error"
    return Architecture(backbone, s, mel_dim, rows - 1 if rows else None, rows, ev, unrevealed, assumptions)


# --- f5-tts's shipped configs and user YAMLs -------------------------------------------------------


@dataclass
class ModelConfig:
    """The model section of an f5 YAML: what load_model / finetune build the backbone from."""

    name: str
    source: str  # 'f5-tts:configs/<name>.yaml' or the YAML's path
    backbone: str
    arch: dict[str, Any]
    mel_spec: dict[str, Any]
    tokenizer: str | None = None
    tokenizer_path: str | None = None
    shipped: bool = False

    @property
    def mel_spec_type(self) -> str:
        return self.mel_spec.get("mel_spec_type", "vocos")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "backbone": self.backbone,
            "arch": self.arch,
            "mel_spec": self.mel_spec,
            "tokenizer": self.tokenizer,
            "tokenizer_path": self.tokenizer_path,
            "shipped": self.shipped,
        }


def _config_from_yaml(data: Any, name: str, source: str, shipped: bool) -> ModelConfig:
    from f5_parity.f5.configs import config_backbone

    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("arch"), dict) or not config_backbone(model):
        raise InputError(f"{source}: not an f5 model config (needs model.backbone and model.arch)",
                         "pass a YAML in f5-tts's schema (like f5_tts/configs/F5TTS_v1_Base.yaml) or a config name")
    return ModelConfig(
        name=str(model.get("name") or name),
        source=source,
        backbone=config_backbone(model),
        arch=dict(model["arch"]),
        mel_spec=dict(model.get("mel_spec") or {}),
        tokenizer=model.get("tokenizer"),
        tokenizer_path=model.get("tokenizer_path"),
        shipped=shipped,
    )


def shipped_configs() -> dict[str, ModelConfig]:
    """The configs inside the installed f5-tts (f5_tts/configs/*.yaml), read, never hard-coded."""
    import yaml
    from importlib.resources import files

    out = {}
    folder = files("f5_tts").joinpath("configs")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            name = entry.name[: -len(".yaml")]
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            out[name] = _config_from_yaml(data, name, f"f5-tts:configs/{entry.name}", shipped=True)
    return out


def load_config(spec: str) -> ModelConfig:
    """A shipped config by name (F5TTS_v1_Base, ...) or a YAML path in f5's schema."""
    import yaml

    shipped = shipped_configs()
    if spec in shipped:
        return shipped[spec]
    p = Path(spec)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise InputError(f"{spec}: no such config file", f"pass a YAML path or one of: {', '.join(shipped)}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{spec} is not a text YAML (a checkpoint?)",
                             f"pass a YAML config or one of: {', '.join(shipped)}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"invalid YAML: {syntax_error_line(spec, exc)}", "fix the YAML syntax") from None
        return _config_from_yaml(data, p.stem, str(p), shipped=False)
    raise InputError(f"unknown config {spec!r}", f"use one of: {', '.join(shipped)} — or a YAML path")


def _effective(backbone: str, arch: dict[str, Any], mel_dim: int) -> dict[str, Any]:
    """The settings a backbone really gets: the YAML's arch over the class's own defaults."""
    sig = inspect.signature(backbone_class(backbone).__init__)
    eff = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    eff.update(arch)
    if "text_dim" in eff and eff["text_dim"] is None:
        eff["text_dim"] = mel_dim  # DiT/UNetT: text_dim defaults to mel_dim
    return eff


@dataclass
class ConfigMatch:
    config: str
    source: str
    matches: bool
    differences: list[dict[str, Any]]  # {'setting', 'weights', 'config'}
    unrevealed_values: dict[str, Any]  # what this config sets for the settings weights cannot reveal

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "source": self.source,
            "matches": self.matches,
            "differences": self.differences,
            "unrevealed_values": self.unrevealed_values,
        }


def match_config(arch: Architecture, cfg: ModelConfig) -> ConfigMatch:
    diffs = []
    if arch.backbone != cfg.backbone:
        diffs.append({"setting": "backbone", "weights": arch.backbone, "config": cfg.backbone})
    mel_cfg = int(cfg.mel_spec.get("n_mel_channels", utils_infer_constant("n_mel_channels")))
    if arch.mel_dim is not None and arch.mel_dim != mel_cfg:
        diffs.append({"setting": "mel_dim", "weights": arch.mel_dim, "config": mel_cfg})
    unrevealed_values = {}
    if arch.backbone == cfg.backbone and arch.backbone is not None:
        eff = _effective(cfg.backbone, cfg.arch, mel_cfg)
        for k, v in arch.settings.items():
            want = eff.get(k, DIM_HEAD_DEFAULT if k == "dim_head" else None)
            if k == "skip_connect_type" and want is None:
                want = "concat"
            if v != want:
                diffs.append({"setting": k, "weights": v, "config": want})
        if "dim_head" not in arch.settings and eff.get("dim_head", DIM_HEAD_DEFAULT) != DIM_HEAD_DEFAULT:
            diffs.append({"setting": "dim_head", "weights": DIM_HEAD_DEFAULT, "config": eff["dim_head"]})
        for k in ("pe_attn_head", "text_mask_padding", "text_embedding_average_upsampling", "attn_mask_enabled"):
            if k in eff:
                unrevealed_values[k] = eff[k]
    unrevealed_values["mel_spec_type"] = cfg.mel_spec_type
    return ConfigMatch(cfg.name, cfg.source, not diffs, diffs, unrevealed_values)
