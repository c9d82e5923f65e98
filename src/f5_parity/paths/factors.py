"""The fixed set of factor ids: every setting that can differ between the trainer and infer paths.

Used everywhere (specs, JSON, report, CLI). Each factor says which stage first shows it, whether part
of it differs by design between the two canonical paths, and how to fix it on the infer side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    id: str
    title: str
    first_stage: str  # where a difference first becomes visible
    fix: str  # how to restore parity on the infer side


FACTORS: tuple[Factor, ...] = (
    Factor("weights", "weight set (raw or EMA) and file keys", "velocity",
           "load the raw weights the trainer sampled from: load_model(..., use_ema=False) / F5TTS(use_ema=False); "
           "infer_cli has no --use_ema flag, so export model_state_dict as the EMA set for it"),
    Factor("arch", "model config, incl. pe_attn_head and text_mask_padding", "velocity",
           "infer with the training config: -m/--model with the same name, or a config whose arch matches "
           "(v0 checkpoints need F5TTS_Base: pe_attn_head=1, text_mask_padding=False)"),
    Factor("vocab", "vocab file and its order", "tokens",
           "pass the training vocab: -v/--vocab_file data/<dataset>_<tokenizer>/vocab.txt"),
    Factor("text", "text frontend, Unicode form and framing", "tokens",
           "normalize input text to NFC (unicodedata.normalize('NFC', s)) and use the training frontend"),
    Factor("mel", "mel type and parameters", "cond_mel",
           "use the mel_spec_type the model was trained with: --vocoder_name vocos|bigvgan"),
    Factor("vocoder", "vocoder weights and type", "wav",
           "use the vocoder the trainer used: --vocoder_name and --load_vocoder_from_local with its path"),
    Factor("ref-audio", "reference preprocessing (clip, trim, RMS, resampling)", "cond_mel",
           "give a reference under 12 s whose transcript matches the audio exactly"),
    Factor("duration", "duration rule and speed", "duration",
           "leave --speed at 1.0 and --fix_duration unset, or set --fix_duration to the reference rate"),
    Factor("sampler", "nfe, cfg, sway, ODE method, seed", "timesteps",
           "use nfe_step 32, cfg_strength 2.0, sway_sampling_coef -1.0 (utils_infer's defaults), and a fixed --seed"),
    Factor("dtype", "weight dtype and autocast", "velocity",
           "load in fp32 (load_checkpoint(..., dtype=torch.float32)) or under the training run's autocast"),
)

FACTOR_IDS: tuple[str, ...] = tuple(f.id for f in FACTORS)
BY_ID: dict[str, Factor] = {f.id: f for f in FACTORS}

# Keys whose difference is part of how the two paths are built, not a misconfiguration:
# (factor, key) -> (canonical trainer value, canonical infer value).
BY_DESIGN: dict[tuple[str, str], tuple[object, object]] = {
    ("text", "framing"): ("trainer", "infer"),  # ref+' '+ref vs ref+'. '(+' ')+gen
    ("ref-audio", "preprocess"): ("dataset", "infer"),  # dataset mel vs pydub clip/trim + 50 ms
    ("ref-audio", "target_rms"): (None, 0.1),  # infer raises quiet references to RMS 0.1
    ("duration", "rule"): ("2x", "bytes"),  # 2 x ref frames vs the UTF-8 byte-ratio estimate
}
