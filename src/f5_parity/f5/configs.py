"""F5 model configs: the YAMLs shipped inside f5-tts, or a user's YAML in the same schema."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError, syntax_error_line

# F5's mel front end: utils_infer's module globals fix it (load_model ignores a YAML's mel block).
MEL_SPEC_KWARGS = dict(
    n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100, target_sample_rate=24000, mel_spec_type="vocos"
)

# The two flag sets that leave every key and shape unchanged (F5TTS_Base vs F5TTS_v1_Base).
V1_FLAGS: dict[str, Any] = dict(text_mask_padding=True, pe_attn_head=None)
V0_FLAGS: dict[str, Any] = dict(text_mask_padding=False, pe_attn_head=1)

# infer_cli's --model default and F5TTS(model=...)'s default.
DEFAULT_INFER_MODEL = "F5TTS_v1_Base"

# Arch keys that change no number the model computes (kernels and memory only).
NON_NUMERIC_ARCH_KEYS = ("attn_backend", "checkpoint_activations")


BACKBONES = ("DiT", "UNetT", "MMDiT")


def backbone_class(name: str):
    """f5_tts.model's class for a backbone name (what load_model and the Trainer build)."""
    import f5_tts.model as m

    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}", f"f5-tts ships {', '.join(BACKBONES)}")
    return getattr(m, name)


def official_config_names() -> list[str]:
    root = files("f5_tts").joinpath("configs")
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_config(name_or_path: str | Path) -> dict[str, Any]:
    """The `model:` section of an official config (by name) or of a YAML file."""
    import yaml

    text = None
    source = str(name_or_path)
    if source in official_config_names():
        text = files("f5_tts").joinpath(f"configs/{source}.yaml").read_text()
    else:
        p = Path(source)
        if p.suffix in (".yaml", ".yml") or p.exists():
            if not p.exists():
                raise InputError(f"config file not found: {p}", "check the path, or give an official name")
            if p.is_dir():
                raise InputError(f"config {p} is a directory", "give a YAML file or an official config name")
            try:
                text = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InputError(f"config {p} is not a text YAML (a checkpoint?)",
                                 "give the training YAML, or an official config name") from None
        else:
            raise InputError(
                f"unknown config {source!r}",
                f"use one of {', '.join(official_config_names())} or a YAML path",
            )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"config is not valid YAML: {syntax_error_line(source, exc)}", "fix the YAML syntax") from None
    model = (data or {}).get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or "arch" not in model:
        raise InputError(f"config has no model.arch section: {source}", "use a config in f5-tts's configs/*.yaml schema")
    model = dict(model)
    model.setdefault("backbone", "DiT")
    model.setdefault("mel_spec", {})
    model["source"] = source
    return model


def numeric_arch(arch: dict[str, Any], backbone: str = "DiT") -> dict[str, Any]:
    """The arch kwargs that change what the model computes, with DiT's defaults made explicit."""
    out = {k: v for k, v in dict(arch).items() if k not in NON_NUMERIC_ARCH_KEYS}
    if backbone != "DiT":
        return out
    # DiT's own defaults: a config that omits these gets them silently. Read from the installed DiT: a key
    # its release does not have (attn_mask_enabled before 1.1.x ...) is not added.
    from f5_parity.f5.defaults import backbone_init_defaults

    installed = backbone_init_defaults("DiT")
    for key in ("text_mask_padding", "pe_attn_head", "qk_norm", "conv_layers", "dim_head", "long_skip_connection",
                "attn_mask_enabled", "text_embedding_average_upsampling"):
        if key in installed:
            out.setdefault(key, installed[key])
    return out
