"""Why an infer path could not load its checkpoint, read from what was observed, not from the error text.

torch's "Error(s) in loading state_dict for CFM:" says the same thing for a model built with the
wrong size (F5-TTS #165, #904, #911: infer_cli without -m/-mc builds F5TTS_v1_Base), an embedding
built for another vocab (#915, #115, #870) and a file whose keys carry a wrapper prefix. The hooks
of observe/calls.py recorded the backbone's constructor kwargs and the vocab size the model was
built with; the checkpoint's shapes say what it holds (checkpoint/architecture.py). The order of
the checks is the order a user fixes them in: the model's size first (arch, with the config to
pass), then the token embedding against the vocab (vocab), then the file's key layout (weights).
What none of these explains stays unexplained and is quoted whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Settings compared between the model built and the weights (what shapes reveal, checkpoint/architecture.py).
_SHOWN = ("dim", "depth", "heads", "dim_head", "ff_mult", "text_dim", "conv_layers", "qk_norm",
          "long_skip_connection", "skip_connect_type")


# The one entry of a .pt that f5's load_checkpoint reads per weight set (utils_infer.load_checkpoint).
_F5_ENTRY = {"ema": "ema_model_state_dict", "raw": "model_state_dict"}


@dataclass
class LoadDiagnosis:
    factor: str | None  # "arch" | "vocab" | "weights" | None (unexplained)
    why: str  # what was observed against what the file holds
    fix: str
    evidence: dict[str, Any]


def _settings(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={d[k]}" for k in _SHOWN if k in d)


def _config_fix(runner_kind: str, arch, train_config: str | None) -> tuple[str, list[str]]:
    """The config that builds a model of the checkpoint's shapes, said the way the user's path takes it."""
    from f5_parity.checkpoint.architecture import load_config, match_config, shipped_configs

    yaml_fit = None
    if train_config:
        try:
            if match_config(arch, load_config(train_config)).matches:
                yaml_fit = train_config
        except Exception:  # an unreadable trainer config is reported elsewhere; it just cannot be proposed here
            yaml_fit = None
    shipped = [name for name, cfg in shipped_configs().items() if match_config(arch, cfg).matches]
    if runner_kind == "infer-cli":
        how = ([f"-mc {yaml_fit}"] if yaml_fit else []) + [f"-m {name}" for name in shipped]
        if not how:
            how = ["-mc <your training YAML>"]
        return ("pass the config the checkpoint was trained with to infer_cli: " + " or ".join(how)
                + " (without -m/-mc infer_cli builds F5TTS_v1_Base)"), how
    if runner_kind == "api":
        how = [f"F5TTS(model={name!r})" for name in shipped] or [
            f"load_model(<backbone>, model_cfg.model.arch of {yaml_fit or 'your training YAML'}, ...): "
            "F5TTS(model=...) takes only f5-tts's shipped config names"]
        return "build the model the checkpoint was trained as: " + " or ".join(how), how
    src = yaml_fit or (f"f5-tts's {shipped[0]}.yaml" if shipped else "your training YAML")
    how = [f"load_model(model_cls, model_cfg.model.arch) with the arch of {src}"]
    return "build the model from the config the checkpoint was trained with: " + how[0], how


def _layout_mistake(checkpoint: str, file, sets: dict[str, Any], wanted: str,
                    use_ema: bool) -> LoadDiagnosis | None:
    """What in the file's layout f5's load_checkpoint cannot read: a bare state dict, the set under another entry,
    a set the file lacks, a DDP/torch.compile key prefix; None when the layout is f5's own."""
    any_set = sets.get(wanted) or next(iter(sets.values()))
    prefixes = sorted(p for p in any_set.prefixes if p in ("module.", "_orig_mod."))
    prefix_note = (f"; its keys also carry {', '.join(prefixes)} (a DDP/torch.compile wrapper), which f5's strict "
                   "load does not strip" if prefixes else "")
    layout: LoadDiagnosis | None = None
    if Path(checkpoint).suffix != ".safetensors" and file.is_bare:
        layout = LoadDiagnosis(
            "weights", "the file is a bare state dict: f5's load_checkpoint reads a .pt only through its "
            "'ema_model_state_dict' (use_ema=True) or 'model_state_dict' (use_ema=False) entry" + prefix_note,
            "re-save it as torch.save({'ema_model_state_dict': sd}) (or as .safetensors) with the keys "
            "unprefixed (`parity-check inspect` shows the layout)", {"bare": True, "prefixes": prefixes})
    elif (Path(checkpoint).suffix != ".safetensors" and wanted in sets
          and sets[wanted].source != _F5_ENTRY[wanted]):
        layout = LoadDiagnosis(
            "weights", f"the {wanted} weights sit under {sets[wanted].source!r}; f5's load_checkpoint reads "
            f"{_F5_ENTRY[wanted]!r} (use_ema={use_ema})" + prefix_note,
            f"re-save them under {_F5_ENTRY[wanted]!r} (`parity-check inspect` shows the layout)",
            {"weight_sets": sorted(sets), "use_ema": use_ema, "prefixes": prefixes})
    elif wanted not in sets and Path(checkpoint).suffix != ".safetensors":
        held = ", ".join(sets)
        layout = LoadDiagnosis(
            "weights", f"the path loads the {wanted} weights (use_ema={use_ema}) and the file holds only: {held}"
            + prefix_note,
            ("load the set the file holds: " + ("use_ema=True (load_model / F5TTS); infer_cli always loads the EMA"
                                                if "ema" in sets else
                                                "use_ema=False (load_model(..., use_ema=False) / F5TTS(use_ema=False)); "
                                                "infer_cli has no --use_ema flag, so save model_state_dict as "
                                                "ema_model_state_dict for it")
             + " — a pruned export (#895) keeps one set only"),
            {"weight_sets": sorted(sets), "use_ema": use_ema, "prefixes": prefixes})
    elif prefixes:
        layout = LoadDiagnosis(
            "weights", f"the file's keys carry {', '.join(prefixes)} (a DDP/torch.compile wrapper) that f5's "
            "strict load does not strip",
            "re-save model_state_dict / ema_model_state_dict without the wrapper prefix (`parity-check inspect` "
            "shows the layout)", {"prefixes": prefixes})
    return layout


def diagnose_load(obs, *, checkpoint: str | None, use_ema: bool, runner_kind: str,
                  train_config: str | None, pool=None) -> LoadDiagnosis | None:
    """The factor responsible for a failed load, from the observed construction and the file's shapes.

    None when there is nothing to read (no construction observed, or the file cannot be opened):
    the caller then says the failure is unexplained."""
    from f5_parity.checkpoint.architecture import infer_architecture
    from f5_parity.checkpoint.file import open_checkpoint
    from f5_parity.errors import InputError

    if not checkpoint or not Path(checkpoint).is_file():
        return None
    try:
        file = pool.checkpoint(checkpoint) if pool is not None else open_checkpoint(checkpoint)  # the run's copy
        sets = file.weight_sets()
    except InputError:
        return None
    wanted = "ema" if use_ema else "raw"
    any_set = sets.get(wanted) or next(iter(sets.values()))
    layout = _layout_mistake(checkpoint, file, sets, wanted, use_ema)  # said after the model's size and its vocab
    arch = infer_architecture(any_set.meta)
    built = obs.constructions[-1] if obs.constructions else None
    evidence: dict[str, Any] = {"checkpoint": {"backbone": arch.backbone, **arch.settings,
                                               "text_num_embeds": arch.text_num_embeds}}
    if built is not None and built.get("backbone_kwargs") is not None and arch.backbone is not None:
        from f5_parity.checkpoint.architecture import _effective

        kwargs = dict(built["backbone_kwargs"])
        mel_dim = int(kwargs.get("mel_dim") or arch.mel_dim or 100)
        eff = _effective(built["backbone"], kwargs, mel_dim)
        evidence["built"] = {"backbone": built["backbone"], **{k: eff.get(k) for k in _SHOWN if k in arch.settings},
                             "text_num_embeds": kwargs.get("text_num_embeds")}
        diffs = {k: (eff.get(k, 64 if k == "dim_head" else None), v) for k, v in arch.settings.items()
                 if eff.get(k, 64 if k == "dim_head" else None) != v}
        if built["backbone"] != arch.backbone or (arch.mel_dim and arch.mel_dim != mel_dim) or diffs:
            fix, how = _config_fix(runner_kind, arch, train_config)
            evidence["config_fix"] = how
            built_s = (f"{built['backbone']}({_settings({k: a for k, (a, _) in diffs.items()})})"
                       if built["backbone"] == arch.backbone else built["backbone"])
            held_s = (f"{arch.backbone}({_settings({k: b for k, (_, b) in diffs.items()})})"
                      if built["backbone"] == arch.backbone else f"{arch.backbone}({_settings(arch.settings)})")
            also = ""
            if kwargs.get("text_num_embeds") not in (None, arch.text_num_embeds):
                also = (f"; then the vocab: the model was built for {kwargs['text_num_embeds']} tokens, the "
                        f"checkpoint's embedding holds {arch.text_num_embeds}")
            return LoadDiagnosis("arch", f"your path built {built_s}; the checkpoint holds {held_s}{also}", fix,
                                 evidence)
        built_vocab = kwargs.get("text_num_embeds")
        if built_vocab is not None and arch.text_num_embeds is not None and built_vocab != arch.text_num_embeds:
            return LoadDiagnosis(
                "vocab", f"the model was built for a vocab of {built_vocab} tokens (the vocab file your path "
                f"read); the checkpoint's text embedding holds {arch.text_num_embeds} (+1 filler row)",
                f"pass the vocab.txt the checkpoint was fine-tuned with ({arch.text_num_embeds} lines), "
                "not f5-tts's default Emilia vocab (infer_cli: -v; load_model: vocab_file=)", evidence)
    if layout is not None:
        layout.evidence = {**evidence, **layout.evidence}
    return layout
