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
