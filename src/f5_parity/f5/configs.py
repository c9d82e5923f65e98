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

# Arch keys that change no number the model computes (kernels and memory only).
NON_NUMERIC_ARCH_KEYS = ("attn_backend", "checkpoint_activations")


BACKBONES = ("DiT", "UNetT", "MMDiT")


def backbone_class(name: str):
    """f5_tts.model's class for a backbone name (what load_model and the Trainer build)."""
    import f5_tts.model as m

    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}", f"f5-tts ships {', '.join(BACKBONES)}")
    return getattr(m, name)


def fixed_arch_flags(backbone: str = "DiT") -> dict[str, Any]:
    """Flags the installed backbone takes no argument for, because it always computes them one way.

    f5-tts 0.x's DiT is v0 only: rotary applied to the first dim_head dims of q/k before the head split
    (= pe_attn_head=1 in 1.x) and filler text positions not masked (= text_mask_padding=False). A release
    with the arguments returns {}.
    """
    if backbone != "DiT":
        return {}
    import inspect

    params = inspect.signature(backbone_class(backbone).__init__).parameters
    return {k: v for k, v in V0_FLAGS.items() if k not in params}


class UnbuildableArch(InputError):
    """An arch the installed f5-tts cannot construct (v1 flags on a 0.x release)."""


def backbone_kwargs(backbone: str, arch: dict[str, Any]) -> dict[str, Any]:
    """The arch as the installed backbone's constructor takes it (what load_model gets as model_cfg).

    A flag the release computes one fixed way (fixed_arch_flags) is dropped when it asks for that way;
    asking for another one raises UnbuildableArch: such a model cannot exist in that release.
    """
    out = dict(arch)
    for key, fixed in fixed_arch_flags(backbone).items():
        if key in out:
            wanted = out.pop(key)
            if wanted != fixed:
                from f5_parity.f5.environment import detect

                raise UnbuildableArch(
                    f"{key}={wanted!r} cannot be built by f5-tts {detect().version}: its {backbone} always "
                    f"computes {key}={fixed!r} (v0 models only)",
                    "judge v1 checkpoints (pe_attn_head=None, text_mask_padding=True) in an f5-tts 1.x environment")
    return out


def build_backbone(backbone: str, arch: dict[str, Any], *, text_num_embeds: int, mel_dim: int):
    """The backbone load_model / train.py construct: cls(**model_cfg, text_num_embeds=..., mel_dim=...)."""
    return backbone_class(backbone)(**backbone_kwargs(backbone, arch), text_num_embeds=text_num_embeds,
                                    mel_dim=mel_dim)


def config_backbone(model: dict[str, Any]) -> str | None:
    """The backbone a config's `model:` section builds. 1.x names it (model.backbone); f5-tts 0.x's
    *_train.yaml does not, and its train.py picks UNetT when model.name holds "E2TTS", else DiT."""
    if model.get("backbone"):
        return str(model["backbone"])
    name = str(model.get("name") or "")
    if "E2TTS" in name:
        return "UNetT"
    if "F5TTS" in name:
        return "DiT"
    return None


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
    model["backbone"] = config_backbone(model) or "DiT"
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

    installed = {**fixed_arch_flags("DiT"), **backbone_init_defaults("DiT")}  # 0.x: the v0 flags it computes
    for key in ("text_mask_padding", "pe_attn_head", "qk_norm", "conv_layers", "dim_head", "long_skip_connection",
                "attn_mask_enabled", "text_embedding_average_upsampling"):
        if key in installed:
            out.setdefault(key, installed[key])
    return out
