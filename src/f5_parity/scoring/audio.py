"""Reading, checking and resampling audio in-process (no ffmpeg CLI for wavs).

Every bad file becomes one InputError naming the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from f5_parity.errors import InputError

F5_SAMPLE_RATE = 24_000
ASR_SAMPLE_RATE = 16_000


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono, [-1, 1]
    sample_rate: int
    path: str | None = None
    channels: int = 1  # in the file; samples are their mean

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


SILENT_RMS = 1e-4
CLIP_LEVEL = 0.999  # |sample| at or above this is at full scale
CLIPPED_SHARE = 0.001  # more than 0.1 % of the samples at full scale: audibly clipped


def levels(audio: Audio) -> dict[str, float]:
    """RMS, peak and the share of samples at full scale."""
    x = np.abs(audio.samples.astype(np.float64))
    return {"rms": float(np.sqrt(np.mean(x**2))), "peak": float(x.max()),
            "clipped_share": float(np.mean(x >= CLIP_LEVEL))}


def audio_findings(audio: Audio, *, reference: bool = False) -> list[str]:
    """What is wrong or odd about a clip, with its numbers: silent, clipped; for a reference also stereo
    and a rate other than F5's 24 kHz."""
    lv = levels(audio)
    out = []
    if lv["rms"] < SILENT_RMS:
        out.append(f"silent (RMS {lv['rms']:.1e} < {SILENT_RMS:.0e})")
    if lv["clipped_share"] > CLIPPED_SHARE:
        out.append(f"clipped: {lv['clipped_share']:.2%} of the samples at full scale (peak {lv['peak']:.3f})")
    if reference and audio.channels > 1:
        out.append(f"{audio.channels} channels: F5 averages them to mono")
    if reference and audio.sample_rate != F5_SAMPLE_RATE:
        out.append(f"sampled at {audio.sample_rate} Hz: F5 resamples it to {F5_SAMPLE_RATE} Hz")
    return out


def read_audio(path: str | Path, *, min_seconds: float = 0.05, max_seconds: float | None = None) -> Audio:
    """Decode a wav/flac/ogg file to float32 mono, refusing what cannot be scored or synthesized."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise InputError(f"audio file not found: {p}", "check the path")
    if p.is_dir():
        raise InputError(f"expected an audio file, got a folder: {p}", "pass a .wav file")
    if p.stat().st_size == 0:
        raise InputError(f"audio file is empty (0 bytes): {p}", "re-export the audio as a wav")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise InputError(
            f"not a readable audio file: {p} ({str(exc).splitlines()[0]})",
            "convert it to a PCM wav, e.g. `ffmpeg -i in.mp3 -ac 1 -ar 24000 out.wav`",
        ) from None
    if data.shape[0] == 0:
        raise InputError(f"audio file has no samples: {p}", "re-export the audio with speech in it")
    mono = data.mean(axis=1).astype(np.float32)
    bad = int(np.size(mono) - np.count_nonzero(np.isfinite(mono)))
    if bad:
        raise InputError(f"audio file contains {bad} NaN or infinite samples of {mono.size}: {p}",
                         "re-export the audio; the writer produced invalid floats")
    audio = Audio(mono, int(sr), str(p), channels=int(data.shape[1]))
    if audio.seconds < min_seconds:
        raise InputError(f"audio is too short ({audio.seconds:.3f} s < {min_seconds} s): {p}", "use a clip with at least a word of speech")
    if max_seconds is not None and audio.seconds > max_seconds:
        raise InputError(f"audio is too long ({audio.seconds:.1f} s > {max_seconds} s): {p}", f"cut it below {max_seconds} s")
    return audio


def check_not_silent(audio: Audio, *, min_rms: float = 1e-4) -> None:
    rms = float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)))
    if rms < min_rms:
        raise InputError(f"audio is silent (RMS {rms:.2e}): {audio.path}", "use a clip that contains speech")


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return samples.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), src_rate, dst_rate)
    return out.numpy()


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    import soundfile as sf

    import io

    from f5_parity.files import write_bytes_atomic

    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(samples, dtype=np.float32), sample_rate, subtype="PCM_16", format="WAV")
    return write_bytes_atomic(path, buffer.getvalue())
