"""Defaults of f5-tts read from its own source, so there is no second hand-written copy."""

from __future__ import annotations

import ast
from typing import Any



def utils_infer_constant(name: str) -> Any:
    """A module-level constant of f5's utils_infer (n_mel_channels, ...), read from its source.

    Importing utils_infer costs ~9 s (transformers, pydub...); parsing it costs milliseconds.
    """
    cache = utils_infer_constant.__dict__.setdefault("_cache", {})
    if not cache:
        from importlib.resources import files

        src = files("f5_tts").joinpath("infer/utils_infer.py").read_text(encoding="utf-8")
        for node in ast.parse(src).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    cache[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return cache[name]


# The module globals of utils_infer that decide an inference (infer_cli falls back to them after its TOML).
_UTILS_INFER_NAMES = ("mel_spec_type", "target_rms", "cross_fade_duration", "nfe_step", "cfg_strength",
                      "sway_sampling_coef", "speed", "fix_duration", "ode_method")


def utils_infer_defaults() -> dict[str, Any]:
    """utils_infer's inference defaults as the installed f5-tts defines them (nfe_step 32, cfg 2.0 ... in 1.1.22)."""
    return {name: utils_infer_constant(name) for name in _UTILS_INFER_NAMES}


def infer_defaults() -> dict[str, Any]:
    """The same defaults under the engine's sampler/ref-audio names."""
    d = utils_infer_defaults()
    return dict(nfe=d["nfe_step"], cfg=float(d["cfg_strength"]), sway=float(d["sway_sampling_coef"]),
                ode=d["ode_method"], speed=float(d["speed"]), fix_duration=d["fix_duration"],
                target_rms=float(d["target_rms"]))


_BACKBONE_FILES = {"DiT": "model/backbones/dit.py", "UNetT": "model/backbones/unett.py", "MMDiT": "model/backbones/mmdit.py"}


def backbone_init_defaults(backbone: str = "DiT") -> dict[str, Any]:
    """The keyword defaults of the installed backbone's __init__ (DiT's differ by release: 1.0.x has no
    attn_mask_enabled / text_embedding_average_upsampling / attn_backend), read from its source."""
    cache = backbone_init_defaults.__dict__.setdefault("_cache", {})
    if backbone not in cache:
        from f5_parity.f5.environment import loaded_package_dir

        root = loaded_package_dir()
        path = root / _BACKBONE_FILES[backbone] if root is not None else None
        out: dict[str, Any] = {}
        if path is not None and path.exists():
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.ClassDef) and node.name == backbone:
                    init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                    if init is None:
                        continue
                    a = init.args
                    pairs = list(zip([x.arg for x in a.args][len(a.args) - len(a.defaults):], a.defaults))
                    pairs += [(x.arg, d) for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
                    for name, default in pairs:
                        try:
                            out[name] = ast.literal_eval(default)
                        except ValueError:
                            pass
        cache[backbone] = out
    return cache[backbone]
