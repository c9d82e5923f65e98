"""Path specs: every setting that can differ between two ways of running one checkpoint.

A PathSpec holds one value per factor id (factors.FACTOR_IDS). Values are small JSON-able dicts and
are what gets compared; `locators` hold where things live (file paths), which never count as a
difference by themselves (two copies of one vocab are the same vocab).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f5_parity.f5.defaults import infer_defaults
from f5_parity.f5.configs import fixed_arch_flags, load_config, numeric_arch
from f5_parity.f5.versions import trainer_sample_facts
from f5_parity.paths.factors import BY_DESIGN, FACTOR_IDS
from f5_parity.f5.configs import MEL_SPEC_KWARGS
from f5_parity.f5.vocab import official_vocab_path
from f5_parity.files import sha256_file

UNKNOWN = "unknown"

# utils_infer's module globals (f5-tts 1.1.22, L52-65): what load_model / infer_process use.
INFER_DEFAULTS = infer_defaults()  # utils_infer's, read from the installed f5-tts


@dataclass(frozen=True)
class PathSpec:
    label: str
    values: dict[str, dict[str, Any]]
    locators: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: frozenset[tuple[str, str]] = frozenset()  # (factor, key) the weights cannot reveal

    def __post_init__(self):
        missing = [f for f in FACTOR_IDS if f not in self.values]
        if missing:
            raise ValueError(f"spec {self.label!r} lacks factors {missing}")

    def value(self, fid: str) -> dict[str, Any]:
        return self.values[fid]

    def locate(self, fid: str, key: str, default: Any = None) -> Any:
        return self.locators.get(fid, {}).get(key, default)

    def differing(self, other: "PathSpec") -> list[str]:
        return [f for f in FACTOR_IDS if self.values[f] != other.values[f]]

    def mix(self, donor: "PathSpec", fids: list[str] | tuple[str, ...], label: str | None = None) -> "PathSpec":
        """This spec with the factors `fids` taken from `donor` (values and locators)."""
        values = copy.deepcopy(self.values)
        locators = copy.deepcopy(self.locators)
        unknown = {u for u in self.unknown if u[0] not in fids}
        for f in fids:
            values[f] = copy.deepcopy(donor.values[f])
            if f in donor.locators:
                locators[f] = copy.deepcopy(donor.locators[f])
            else:
                locators.pop(f, None)
            unknown |= {u for u in donor.unknown if u[0] == f}
        return PathSpec(label or f"{self.label}+{'+'.join(fids)}", values, locators, frozenset(unknown))

    def with_value(self, fid: str, label: str | None = None, locator: dict[str, Any] | None = None,
                   **changes: Any) -> "PathSpec":
        values = copy.deepcopy(self.values)
        values[fid] = {**values[fid], **changes}
        locators = copy.deepcopy(self.locators)
        if locator is not None:
            locators[fid] = {**locators.get(fid, {}), **locator}
        return PathSpec(label or self.label, values, locators, self.unknown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "values": self.values,
            "locators": self.locators,
            "unknown": sorted(f"{f}.{k}" for f, k in self.unknown),
        }


@dataclass(frozen=True)
class ByDesignDifference:
    factor: str
    key: str
    train: Any
    infer: Any


def align_by_design(train: PathSpec, infer: PathSpec) -> tuple[PathSpec, list[ByDesignDifference]]:
    """The infer spec with its by-design keys set to the trainer's, so stages see identical inputs.

    Only the canonical pair counts as by design (trainer value on one side, infer value on the
    other); any other value is a real difference and stays.
    """
    aligned = infer
    found = []
    for (fid, key), (train_value, infer_value) in BY_DESIGN.items():
        t, i = train.values[fid].get(key), infer.values[fid].get(key)
        if t == train_value and i == infer_value:
            aligned = aligned.with_value(fid, **{key: t})
            found.append(ByDesignDifference(fid, key, t, i))
    return PathSpec(f"{infer.label} (aligned)", aligned.values, aligned.locators, aligned.unknown), found


def _vocab_value(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from f5_parity.f5.vocab import read_vocab_chars

    p = Path(path)
    chars = read_vocab_chars(p)
    return {"sha256": sha256_file(p), "size": len(chars)}, {"path": str(p)}


def vocoder_value(name: str, *, local_path: str | Path | None = None, given_path: str | Path | None = None,
                  decode: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The vocoder a path decodes with, as f5's load_vocoder finds it (f5/vocoders.py): a local folder (the
    training config's vocoder.local_path, infer_cli's --load_vocoder_from_local), else the hub's repository by
    name. Its weights are identified by the sha256 of their file where the tool can read it: the local folder,
    else --vocoder-path (`given_path`, a local copy standing for the hub's), else the user's hub cache. Where none
    is readable, `weights` is None and the value names where they would come from: two paths that load the same
    hub repository load the same weights; any other pair cannot be decided here (parity/session.py).

    The locator's `path` is the folder the tool decodes with; None (no readable weights, or `decode` False for
    --vocoder griffin-lim) means the tool's own griffin-lim decoding aid, which is never a path's value."""
    from f5_parity.f5.vocoders import hub_cached_folder, hub_repo, weights_file

    folder, source = None, None
    if local_path and weights_file(name, local_path):
        folder, source = Path(local_path), f"the local folder {local_path}"
    elif given_path and weights_file(name, given_path):
        folder = Path(given_path)
        source = f"--vocoder-path {given_path}, standing for " + (
            f"the local folder {local_path} (not readable here)" if local_path else f"the hub's {hub_repo(name)}")
    elif not local_path and hub_cached_folder(name):
        folder = hub_cached_folder(name)
        source = f"the hub's {hub_repo(name)}, from the hub cache {folder}"
    weights = weights_file(name, folder)
    value: dict[str, Any] = {"name": name, "weights": sha256_file(weights) if weights else None}
    if weights is None:
        value.update({"local": str(local_path)} if local_path else {"hub": hub_repo(name)})
        source = (f"from the local folder {local_path}, not readable here" if local_path else
                  f"from the hub's {hub_repo(name)}: no --vocoder-path given, not in the hub cache")
    return value, {"path": str(folder) if weights and decode else None, "source": source,
                   "given": str(given_path) if given_path else None, "decode": decode}


def decoder_name(spec: PathSpec) -> str:
    """What the tool decodes this spec's mels with: its vocoder, or the griffin-lim aid where it has no weights."""
    return spec.value("vocoder")["name"] if spec.locate("vocoder", "path") else "griffin-lim"


def vocoder_undecided(train: PathSpec, infer: PathSpec) -> str | None:
    """Why the vocoder factor cannot be decided here (a side whose weights the tool cannot read, and values that
    differ), or None. Never a culprit: the tool's limit, said as such."""
    t, i = train.value("vocoder"), infer.value("vocoder")
    if t == i or (t.get("weights") and i.get("weights")) or t.get("name") != i.get("name"):
        return None
    if not t.get("weights"):
        return (f"not decided: the Trainer's {t.get('name')} weights are not available here "
                f"({train.locate('vocoder', 'source')}); pass --vocoder-path with that vocoder's folder")
    return (f"not decided: your path's {i.get('name')} weights are not available here "
            f"({infer.locate('vocoder', 'source')}); pass --vocoder-path with that vocoder's folder")


def _arch_value(model_cfg: dict[str, Any] | None, detected: dict[str, Any] | None) -> tuple[dict, set]:
    """Arch from a config; or from the weights' shapes, with what shapes cannot reveal marked unknown."""
    unknown: set[tuple[str, str]] = set()
    if model_cfg is not None:
        backbone = model_cfg.get("backbone", "DiT")
        return {"backbone": backbone, **numeric_arch(model_cfg["arch"], backbone)}, unknown
    if detected is None:
        raise ValueError("need a config or an arch detected from the weights")
    backbone = detected.get("backbone") or "DiT"
    arch = {"backbone": backbone, **numeric_arch({k: v for k, v in detected.items() if k != "backbone"}, backbone)}
    fixed = fixed_arch_flags(backbone)  # f5-tts 0.x computes v0 only: nothing left for the weights to hide
    for key in ("pe_attn_head", "text_mask_padding"):
        if key in fixed:
            arch[key] = fixed[key]
            continue
        arch[key] = UNKNOWN
        unknown.add(("arch", key))
    return arch, unknown


def _mel_value(mel_spec_type: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**MEL_SPEC_KWARGS, **(overrides or {}), "mel_spec_type": mel_spec_type}


def trainer_spec(
    checkpoint: str | Path,
    *,
    train_config: str | Path | dict[str, Any] | None,
    train_vocab: str | Path,
    vocoder_path: str | Path | None,
    seed: int = 0,
    mixed_precision: str = "no",
    detected_arch: dict[str, Any] | None = None,
    decode_vocoder: bool = True,
) -> PathSpec:
    """What Trainer.train does when it writes update_N_gen.wav (f5-tts 1.1.22, trainer.py ~L400-435).
    `decode_vocoder` False (--vocoder griffin-lim): the tool decodes with its griffin-lim aid whatever the weights."""
    model_cfg = load_config(train_config) if isinstance(train_config, (str, Path)) else train_config
    arch, unknown = _arch_value(model_cfg, detected_arch)
    mel_cfg = dict((model_cfg or {}).get("mel_spec") or {})
    mel_type = mel_cfg.pop("mel_spec_type", "vocos")
    vocab, vocab_loc = _vocab_value(train_vocab)
    # train.py: load_vocoder(mel_spec_type, model.vocoder.is_local, model.vocoder.local_path)
    vocoder_cfg = dict((model_cfg or {}).get("vocoder") or {})
    vocoder, vocoder_loc = vocoder_value(mel_type, local_path=vocoder_cfg.get("local_path") if vocoder_cfg.get(
        "is_local") else None, given_path=vocoder_path, decode=decode_vocoder)
    values = {
        "weights": {"set": "raw"},  # accelerator.unwrap_model(self.model): the online model, not the EMA
        "arch": arch,
        "vocab": vocab,
        "text": {"frontend": "pinyin", "unicode": "as-is", "framing": "trainer"},
        "mel": _mel_value(mel_type, {k: v for k, v in mel_cfg.items() if k in MEL_SPEC_KWARGS}),
        "vocoder": vocoder,
        "ref-audio": {"preprocess": "dataset", "target_rms": None},
        "duration": {"rule": "2x", "speed": 1.0, "fix_duration": None},
        "sampler": {"nfe": INFER_DEFAULTS["nfe"], "cfg": INFER_DEFAULTS["cfg"], "sway": INFER_DEFAULTS["sway"],
                    "ode": "euler", "seed": seed},
        # Only releases whose sample block enters accelerator.autocast() (1.1.17+) sample in mixed precision;
        # before, the unwrapped model's sample() runs in fp32 whatever the Accelerator's setting.
        "dtype": {"weights": "fp32", "autocast": mixed_precision if trainer_sample_facts(None).autocast else "no"},
    }
    locators = {"weights": {"checkpoint": str(checkpoint)}, "vocab": vocab_loc, "vocoder": vocoder_loc,
                "arch": {"config": (model_cfg or {}).get("source", "detected from weights")}}
    return PathSpec("trainer", values, locators, frozenset(unknown))


def default_infer_dtype(device: str) -> str:
    """load_checkpoint's own rule: fp16 on CUDA with compute capability >= 7, else fp32."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available() and torch.cuda.get_device_properties(device).major >= 7:
            return "fp16"
    return "fp32"


def infer_spec(
    checkpoint: str | Path,
    *,
    infer_config: str | Path | dict[str, Any] | None = None,  # None: the release's default (f5/versions.py)
    infer_vocab: str | Path | None = None,
    use_ema: bool = True,
    vocoder_path: str | Path | None = None,
    vocoder_name: str | None = None,
    vocoder_local_path: str | Path | None = None,
    decode_vocoder: bool = True,
    nfe: int = 32,
    cfg: float = 2.0,
    sway: float = -1.0,
    speed: float = 1.0,
    fix_duration: float | None = None,
    seed: int = 0,
    device: str = "cpu",
    dtype: str | None = None,
    unicode: str = "as-is",
    label: str = "infer",
) -> PathSpec:
    """What f5-tts's infer_cli / F5TTS do: load_model + preprocess_ref_audio_text + infer_process."""
    if infer_config is None:
        from f5_parity.f5.versions import default_infer_config

        infer_config = default_infer_config()
    model_cfg = load_config(infer_config) if isinstance(infer_config, (str, Path)) else infer_config
    arch, _ = _arch_value(model_cfg, None)
    mel_type = vocoder_name or (model_cfg.get("mel_spec") or {}).get("mel_spec_type", "vocos")
    vocab, vocab_loc = _vocab_value(infer_vocab or official_vocab_path())
    vocoder, vocoder_loc = vocoder_value(mel_type, local_path=vocoder_local_path, given_path=vocoder_path,
                                         decode=decode_vocoder)
    values = {
        "weights": {"set": "ema" if use_ema else "raw"},
        "arch": arch,
        "vocab": vocab,
        "text": {"frontend": "pinyin", "unicode": unicode, "framing": "infer"},
        # load_model takes mel settings from utils_infer's globals, never from the YAML.
        "mel": _mel_value(mel_type),
        "vocoder": vocoder,
        "ref-audio": {"preprocess": "infer", "target_rms": INFER_DEFAULTS["target_rms"]},
        "duration": {"rule": "bytes", "speed": speed, "fix_duration": fix_duration},
        "sampler": {"nfe": nfe, "cfg": cfg, "sway": sway, "ode": "euler", "seed": seed},
        "dtype": {"weights": dtype or default_infer_dtype(device), "autocast": "no"},
    }
    locators = {"weights": {"checkpoint": str(checkpoint)}, "vocab": vocab_loc, "vocoder": vocoder_loc,
                "arch": {"config": model_cfg.get("source", "given")}}
    return PathSpec(label, values, locators)


def resolve_unknown(train: PathSpec, infer: PathSpec) -> tuple[PathSpec, list[str]]:
    """Settings the weights cannot reveal take the infer side's values for the comparison, said aloud.

    The arch factor then cannot be judged: it is reported unknown, never silently equal.
    """
    if not train.unknown:
        return train, []
    notes = []
    spec = train
    for fid, key in sorted(train.unknown):
        value = infer.values[fid].get(key)
        spec = spec.with_value(fid, **{key: value})
        notes.append(f"{fid}.{key} is unknown from the weights; compared with the infer side's value {value!r}")
    return PathSpec(spec.label, spec.values, spec.locators, train.unknown), notes
