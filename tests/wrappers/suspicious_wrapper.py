"""A user's own inference wrapper, like the first user's: f5-tts's loader with its defaults (EMA weights)."""

from __future__ import annotations

import numpy as np


def synthesize(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    import yaml
    from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
    from f5_tts.model import DiT

    from f5_parity.paths.griffinlim import GriffinLimVocoder

    import os

    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device)  # use_ema=True by default
    vocoder = GriffinLimVocoder(dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                     target_sample_rate=24000, mel_spec_type="vocos"))
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, vocoder, nfe_step=16, show_info=lambda *a: None,
                               progress=None, device=device)
    return np.asarray(wav), sr
