"""A vocoder-free resynthesis: Griffin-Lim from F5's own log-mel.

No vocoder weights can be downloaded here; Griffin-Lim needs none. It tells a bad mel from a bad
vocoder: Whisper understands a good mel through it (CER ~0.3-0.4 on espeak speech) and not a bad one.
Deterministic (no random phase init). Clearly labelled wherever it is used: it is not Vocos.
"""

from __future__ import annotations

from typing import Any

import torch


def supports(mel: dict[str, Any]) -> bool:
    """Whether these mel features can be inverted here (bigvgan's Slaney-scaled features cannot)."""
    return mel.get("mel_spec_type", "vocos") == "vocos"


class GriffinLimVocoder(torch.nn.Module):
    label = "griffin-lim (vocoder-free, 32 iterations)"

    def __init__(self, mel: dict[str, Any], n_iter: int = 32):
        super().__init__()
        import torchaudio

        if not supports(mel):
            # bigvgan features are Slaney-scaled log-mels of a reflect-padded STFT; not inverted here.
            raise ValueError("griffin-lim resynthesis supports vocos-type mel features only")
        n_fft = mel["n_fft"]
        self.inverse_mel = torchaudio.transforms.InverseMelScale(
            n_stft=n_fft // 2 + 1, n_mels=mel["n_mel_channels"], sample_rate=mel["target_sample_rate"],
            norm=None, mel_scale="htk",
        )
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=n_fft, win_length=mel["win_length"], hop_length=mel["hop_length"], power=1.0, n_iter=n_iter,
            rand_init=False,
        )

    @torch.no_grad()
    def decode(self, mel_bdn: torch.Tensor) -> torch.Tensor:
        """(b, n_mels, frames) log-mel -> (b, samples) waveform, like Vocos.decode."""
        magnitude = torch.exp(mel_bdn.float().cpu())  # F5's vocos features: log(clamp(mel, 1e-5))
        linear = self.inverse_mel(magnitude).clamp_min(0)
        return self.griffin_lim(linear)
