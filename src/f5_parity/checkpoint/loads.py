"""Load simulation: what each of f5's loaders does with this file, by the real load_state_dict on a meta model."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable
import torch

from f5_parity.checkpoint.architecture import Architecture, ConfigMatch, ModelConfig, infer_architecture, match_config, shipped_configs
from f5_parity.f5.configs import backbone_class, backbone_kwargs
from f5_parity.f5.defaults import utils_infer_constant
from f5_parity.checkpoint.ema import EMA_BETA, EMA_UPDATE_EVERY
from f5_parity.checkpoint.file import CheckpointFile

# --- Load simulation -------------------------------------------------------------------------------


@dataclass
class LoadOutcome:
    """What one of f5's loaders does with this file: loads, or the exact exception it raises."""

    path: str  # short id: 'load_checkpoint(use_ema=True)', ...
    call: str  # the f5 call it mirrors
    config: str
    vocab_size: int | None
    ok: bool
    exception: str | None = None  # 'KeyError', 'RuntimeError', ...
    message: str | None = None  # str(exception), exactly as raised
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def error_line(self) -> str | None:
        """One line: KeyError: 'x' as raised, or torch's load error condensed to its first detail."""
        if self.ok:
            return None
        lines = [ln.strip() for ln in (self.message or "").strip().splitlines()]
        if self.exception == "KeyError" or len(lines) <= 1:
            return f"{self.exception}: {lines[0] if lines else ''}"
        details = lines[1:]
        sizes = [ln for ln in details if ln.startswith("size mismatch")]
        first = sizes[0] if sizes else details[0]
        if len(first) > 240:
            first = first[:240] + " ..."
        counts = []
        if self.missing:
            counts.append(f"{len(self.missing)} missing")
        if self.unexpected:
            counts.append(f"{len(self.unexpected)} unexpected")
        if len(self.mismatched) > (1 if sizes else 0):
            counts.append(f"{len(self.mismatched)} size mismatches")
        tail = f" [{', '.join(counts)} keys]" if counts else ""
        return f"{self.exception}: {lines[0]} {first}{tail}"

    def to_dict(self, limit: int = 8) -> dict[str, Any]:
        def cut(xs):
            return xs[:limit] + ([f"... (+{len(xs) - limit} more)"] if len(xs) > limit else [])

        msg = self.message or ""
        if len(msg) > 2000:
            msg = msg[:2000] + f" ... (+{len(msg) - 2000} chars)"
        return {
            "path": self.path,
            "call": self.call,
            "config": self.config,
            "vocab_size": self.vocab_size,
            "ok": self.ok,
            "exception": self.exception,
            "error": self.error_line,
            "message": msg or None,
            "missing_count": len(self.missing),
            "unexpected_count": len(self.unexpected),
            "mismatched_count": len(self.mismatched),
            "missing": cut(self.missing),
            "unexpected": cut(self.unexpected),
            "mismatched": self.mismatched[:limit],
            "notes": self.notes,
            "result": self.result,
        }


def build_meta_cfm(cfg: ModelConfig, vocab_size: int, *, mel_dim: int | None = None):
    """The CFM f5's load_model would build for this config and vocab, shapes only (meta device)."""
    from f5_tts.model import CFM

    cls = backbone_class(cfg.backbone)
    mel_dim = mel_dim or int(utils_infer_constant("n_mel_channels"))
    arch = dict(cfg.arch)
    if arch.get("attn_backend") not in (None, "torch"):
        arch["attn_backend"] = "torch"  # same weights; flash_attn need not be installed to compare shapes
    with torch.device("meta"):
        transformer = cls(**backbone_kwargs(cfg.backbone, arch), text_num_embeds=vocab_size, mel_dim=mel_dim)
        return CFM(transformer=transformer, mel_spec_kwargs=dict(mel_spec_type=cfg.mel_spec_type))


def config_from_architecture(arch: Architecture, name: str = "<from the weights>") -> ModelConfig:
    return ModelConfig(name, "inferred from the weights", arch.backbone or "DiT",
                       {k: v for k, v in arch.settings.items()}, {"n_mel_channels": arch.mel_dim or 100})


def _key_diff(model: torch.nn.Module, provided: dict[str, Any]) -> tuple[list[str], list[str], list[dict]]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in provided]
    unexpected = [k for k in provided if k not in expected]
    mismatched = [
        {"key": k, "checkpoint": list(provided[k].shape), "model": list(expected[k].shape)}
        for k in expected
        if k in provided and isinstance(provided[k], torch.Tensor) and tuple(provided[k].shape) != tuple(expected[k].shape)
    ]
    return missing, unexpected, mismatched


class _Replay:
    """Runs a transcription of an f5 loader on meta objects; records the diff at each load_state_dict."""

    def __init__(self, outcome: LoadOutcome):
        self.outcome = outcome

    def load(self, module: torch.nn.Module, sd: dict[str, Any]) -> None:
        missing, unexpected, mismatched = _key_diff(module, sd)
        self.outcome.missing, self.outcome.unexpected, self.outcome.mismatched = missing, unexpected, mismatched
        module.load_state_dict(sd)  # the real torch check: raises exactly what f5 would see

    def run(self, fn: Callable[[], Any]) -> LoadOutcome:
        try:
            result = fn()
            self.outcome.ok = True
            if isinstance(result, dict):
                self.outcome.result.update(result)
        except Exception as exc:  # the exception f5 would raise, recorded, not propagated
            self.outcome.ok = False
            self.outcome.exception = type(exc).__name__
            self.outcome.message = str(exc)
        return self.outcome


def _replay_load_checkpoint(ck: CheckpointFile, model, use_ema: bool, load: Callable) -> dict[str, Any]:
    """Transcription of f5_tts.infer.utils_infer.load_checkpoint (1.1.22) on meta tensors."""
    ckpt_path = str(ck.path)
    ckpt_type = ckpt_path.split(".")[-1]
    if (ckpt_type == "safetensors") != (ck.format == "safetensors"):
        raise RuntimeError(
            f"f5 reads '.{ckpt_type}' files with {'safetensors.load_file' if ckpt_type == 'safetensors' else 'torch.load'}"
            f" but this file is {ck.format}: the read fails before any weights load"
        )
    checkpoint = ck.meta_tree()
    if use_ema:
        if ckpt_type == "safetensors":
            checkpoint = {"ema_model_state_dict": checkpoint}
        checkpoint["model_state_dict"] = {
            k.replace("ema_model.", ""): v
            for k, v in checkpoint["ema_model_state_dict"].items()
            if k not in ["initted", "step"]
        }
        for key in ["mel_spec.mel_stft.mel_scale.fb", "mel_spec.mel_stft.spectrogram.window"]:
            if key in checkpoint["model_state_dict"]:
                del checkpoint["model_state_dict"][key]
        load(model, checkpoint["model_state_dict"])
    else:
        if ckpt_type == "safetensors":
            checkpoint = {"model_state_dict": checkpoint}
        load(model, checkpoint["model_state_dict"])
    return {}


def _replay_trainer_load(ck: CheckpointFile, model, filename: str, load: Callable,
                         grad_accumulation_steps: int = 1) -> dict[str, Any]:
    """Transcription of f5_tts.model.trainer.Trainer.load_checkpoint (1.1.22) after the file is picked."""
    from ema_pytorch import EMA
    from torch.optim import AdamW
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    with torch.device("meta"):
        ema_model = EMA(model, include_online_model=False)
    optimizer = AdamW(model.parameters(), lr=1e-5)
    # A scheduler of the Trainer's shape, on a throwaway parameter: only its state layout matters.
    dummy = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-5)
    scheduler = SequentialLR(dummy, schedulers=[LinearLR(dummy, 1e-8, 1.0, 10), LinearLR(dummy, 1.0, 1e-8, 10)],
                             milestones=[10])

    if filename.endswith(".safetensors"):
        if ck.format != "safetensors":
            raise RuntimeError("safetensors.load_file cannot read this file: it is a torch archive named .safetensors")
        checkpoint = {"ema_model_state_dict": ck.meta_tree()}
    else:
        if ck.format != "pt":
            raise RuntimeError("torch.load cannot read this file: it is safetensors named .pt")
        checkpoint = ck.meta_tree()

    for key in ["ema_model.mel_spec.mel_stft.mel_scale.fb", "ema_model.mel_spec.mel_stft.spectrogram.window"]:
        if key in checkpoint["ema_model_state_dict"]:
            del checkpoint["ema_model_state_dict"][key]
    load(ema_model, checkpoint["ema_model_state_dict"])

    if "update" in checkpoint or "step" in checkpoint:
        if "step" in checkpoint:
            checkpoint["update"] = checkpoint["step"] // grad_accumulation_steps
        for key in ["mel_spec.mel_stft.mel_scale.fb", "mel_spec.mel_stft.spectrogram.window"]:
            if key in checkpoint["model_state_dict"]:
                del checkpoint["model_state_dict"][key]
        load(model, checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])  # param_groups only: validation
        scheduler.load_state_dict(copy.deepcopy(checkpoint["scheduler_state_dict"]))
        update = checkpoint["update"]
        branch = "resume"
    else:
        checkpoint["model_state_dict"] = {
            k.replace("ema_model.", ""): v
            for k, v in checkpoint["ema_model_state_dict"].items()
            if k not in ["initted", "update", "step"]
        }
        load(model, checkpoint["model_state_dict"])
        update = 0
        branch = "fine-tune start"
    step = ck.weight_sets().get("ema").buffers.get("step") if "ema" in ck.weight_sets() else None
    return {"update": int(update.item() if isinstance(update, torch.Tensor) else update), "branch": branch,
            "ema_step": step}


def _replay(outcome: LoadOutcome, fn: Callable[[Callable], Any]) -> LoadOutcome:
    """Run a transcription with a `load` that records the key diff and calls torch's real check."""
    replay = _Replay(outcome)
    return replay.run(lambda: fn(replay.load))


def simulate_strict_false(ck: CheckpointFile, model, which: str, cfg_name: str) -> LoadOutcome:
    """A user's own loader: model.load_state_dict(the stored dict as it is, strict=False)."""
    ws = ck.weight_sets()[which]
    sd = {k: m.meta_tensor() for k, m in ws.stored.items()}
    where = "the file" if ws.source == "<top level>" else f"ckpt[{ws.source!r}]"
    out = LoadOutcome(f"strict=False ({which})", f"model.load_state_dict({where}, strict=False)", cfg_name, None, False)
    missing, unexpected, mismatched = _key_diff(model, sd)
    out.missing, out.unexpected, out.mismatched = missing, unexpected, mismatched
    try:
        model.load_state_dict(sd, strict=False)
        out.ok = True
    except RuntimeError as exc:  # size mismatches raise even with strict=False
        out.exception, out.message = "RuntimeError", str(exc)
    total = len(model.state_dict())
    out.result = {"left_random": len(missing), "model_tensors": total, "ignored": len(unexpected)}
    if out.ok and missing:
        out.notes.append(f"{len(missing)} of {total} model tensors silently keep their random initialization")
    return out


@dataclass
class LoadSimulation:
    config: str
    config_source: str
    infer_vocab_size: int
    train_vocab_size: int
    outcomes: list[LoadOutcome]

    def by_path(self) -> dict[str, LoadOutcome]:
        return {o.path: o for o in self.outcomes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "config_source": self.config_source,
            "infer_vocab_size": self.infer_vocab_size,
            "train_vocab_size": self.train_vocab_size,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


def _cfg_for_api(given: ModelConfig | None) -> ModelConfig:
    """F5TTS(model=NAME) takes shipped names only; without one it builds the release's default (1.x:
    F5TTS_v1_Base)."""
    from f5_parity.f5.versions import default_infer_config

    if given is not None and given.shipped:
        return given
    return shipped_configs()[default_infer_config()]


def default_config(arch: Architecture) -> ModelConfig:
    """The config to simulate when none is given: a shipped one that fits (the CLI default first), else
    the settings read from the weights (what a hand-written YAML would hold)."""
    fits = [m.config for m in match_shipped(arch) if m.matches]
    if fits:
        from f5_parity.f5.versions import default_infer_config

        default = default_infer_config()
        return shipped_configs()[default if default in fits else fits[0]]
    return config_from_architecture(arch)


def simulate_loads(ck: CheckpointFile, cfg: ModelConfig | None, infer_vocab_size: int,
                   train_vocab_size: int | None = None) -> LoadSimulation:
    """What each of f5's loaders does with this file, for a config (given, or read from the weights)."""
    arch = architecture(ck)
    given = cfg
    if cfg is None:
        cfg = default_config(arch)
    train_vocab_size = train_vocab_size or infer_vocab_size
    mel_infer = int(utils_infer_constant("n_mel_channels"))
    mel_train = int(cfg.mel_spec.get("n_mel_channels", mel_infer))
    outcomes: list[LoadOutcome] = []

    def build(c: ModelConfig, vocab: int, mel: int):
        try:
            return build_meta_cfm(c, vocab, mel_dim=mel), None
        except Exception as exc:  # f5 would fail at the same constructor call
            return None, exc

    infer_model, err = build(cfg, infer_vocab_size, mel_infer)
    for use_ema in (True, False):
        o = LoadOutcome(f"load_checkpoint(use_ema={use_ema})",
                        f"f5_tts.infer.utils_infer.load_model(..., use_ema={use_ema}) -> load_checkpoint",
                        cfg.name, infer_vocab_size, False)
        if infer_model is None:
            o.exception, o.message = type(err).__name__, str(err)
        else:
            _replay(o, lambda load: _replay_load_checkpoint(ck, infer_model, use_ema, load))
        o.notes.append("on CUDA (capability >= 7) load_checkpoint casts the model to fp16 (dtype=None)")
        if use_ema:
            o.notes.append("infer_cli and f5_tts.api.F5TTS use this path (use_ema=True; infer_cli has no flag)")
        outcomes.append(o)

    api_cfg = _cfg_for_api(given)
    o = LoadOutcome("F5TTS()", f"f5_tts.api.F5TTS(model={api_cfg.name!r}, ckpt_file=..., vocab_file=...)",
                    api_cfg.name, infer_vocab_size, False)
    api_model, err = build(api_cfg, infer_vocab_size, mel_infer) if api_cfg is not cfg else (infer_model, err)
    if api_model is None:
        o.exception, o.message = type(err).__name__, str(err)
    else:
        _replay(o, lambda load: _replay_load_checkpoint(ck, api_model, True, load))
    if given is None:
        o.notes.append(f"no --config: F5TTS() builds its default model {api_cfg.name}")
    elif not given.shipped:
        o.notes.append(f"F5TTS takes shipped config names only; {given.name} is a YAML, so its default "
                       f"{api_cfg.name} was used")
    outcomes.append(o)

    from f5_parity.f5.versions import trainer_checkpoint_suffixes

    suffixes = trainer_checkpoint_suffixes()
    name = ck.path.name
    resume_name = name if name.startswith("model_") and name.endswith((".pt", ".safetensors")) else "model_last.pt"
    start_name = name if name.startswith("pretrained_") else "pretrained_" + name
    for label, fname, note in (
        ("Trainer resume", resume_name, "as the newest model_*.pt in the run's checkpoint folder"),
        ("Trainer fine-tune start", start_name, "finetune_cli copies --pretrain to pretrained_<name> and loads it"),
    ):
        o = LoadOutcome(label, f"f5_tts.model.Trainer.load_checkpoint() picking {fname}", cfg.name,
                        train_vocab_size, False, notes=[note])
        if not fname.endswith((".pt", ".safetensors")):
            o.exception, o.message = "skipped", "Trainer only picks files ending in .pt or .safetensors"
            outcomes.append(o)
            continue
        if not fname.endswith(suffixes):
            # The Trainer finds no checkpoint, returns update 0 and trains the fresh model: no error, no load.
            o.ok, o.result = True, {"update": 0, "branch": "not loaded", "ema_step": 0}
            o.notes.append(f"this f5-tts's Trainer.load_checkpoint only considers {' and '.join(suffixes)} files: it "
                           f"ignores {fname} and trains from a random initialization, silently")
            outcomes.append(o)
            continue
        model, err = build(cfg, train_vocab_size, mel_train)
        if model is None:
            o.exception, o.message = type(err).__name__, str(err)
        else:
            _replay(o, lambda load: _replay_trainer_load(ck, model, fname, load))
        if o.ok:
            r = o.result
            if label == "Trainer resume" and r["branch"] != "resume":
                o.notes.append(f"no 'update' key: loads as a fine-tune start — update reset to 0, "
                               f"raw weights = EMA weights, EMA step kept at {r['ema_step']}")
            if label == "Trainer fine-tune start" and r["branch"] == "resume":
                o.notes.append(f"the file has an 'update' key: the Trainer resumes at update {r['update']} with the "
                               "file's optimizer and scheduler instead of starting a fresh fine-tune")
            if r.get("ema_step") is not None:
                o.notes.append(f"the EMA keeps its step {r['ema_step']}: decay stays at {EMA_BETA}, applied every "
                               f"{EMA_UPDATE_EVERY} updates")
        outcomes.append(o)

    for which in ck.weight_sets():
        if infer_model is not None:
            outcomes.append(simulate_strict_false(ck, infer_model, which, cfg.name))
    return LoadSimulation(cfg.name, cfg.source, infer_vocab_size, train_vocab_size, outcomes)


# --- Architecture and config facts, cached per file -----------------------------------------------


def architecture(ck: CheckpointFile) -> Architecture:
    if "architecture" not in ck.cache:
        sets = ck.weight_sets()
        ws = sets.get("ema") or sets.get("raw")
        ck.cache["architecture"] = infer_architecture({k: ws.meta[n] for k, n in ws.cfm_keys().items()})
    return ck.cache["architecture"]


def match_shipped(arch: Architecture) -> list[ConfigMatch]:
    return [match_config(arch, c) for c in shipped_configs().values()]
