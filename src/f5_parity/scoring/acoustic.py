"""Acoustic evidence that works before a model is intelligible: distance to the truth and to the voice.

* ``mcd_dtw``: mel-cepstral distortion (dB) after exact DTW. The cepstrum is the DCT of the log mel
  amplitude (librosa's mel filterbank, 80 bands at 22.05 kHz, c1..c24), scaled to cepstral units so the
  classic constant 10/ln10·sqrt(2) applies. SPTK's all-pass mel-cepstrum (pysptk) ranks the same
  conditions in the same order at about twice these values, but it compiles from source (no wheel);
  compare MCD values only with values this tool produced.
* ``logmel_dtw``: mean |ln mel_truth - ln mel_gen| per bin along an exact DTW path, on F5's own vocos
  feature (24 kHz, 100 mels, n_fft = win = 1024, hop 256, magnitude, ln(clamp 1e-5)).
* ``speaker_similarity``: cosine of Resemblyzer GE2E speaker embeddings (the SIM column of F5's eval,
  with the encoder whose weights ship inside its wheel, so it works offline).

DTW is ``librosa.sequence.dtw`` (exact, steps (1,1),(1,0),(0,1)); both DTW metrics also report the
length ratio and the share of diagonal steps, because DTW hides tempo. Leading and trailing silence is
trimmed at 40 dB below the peak before either distance. Every result names its libraries, models and
versions. Pure functions: nothing prints, nothing is cached on disk by this module.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from f5_parity.errors import InputError

MCD_CONST = 10.0 / np.log(10.0) * np.sqrt(2.0)  # ln-cepstral Euclidean distance -> dB
TRIM_TOP_DB = 40.0
MCD_CONFIG = {"sr": 22050, "order": 24, "n_mels": 80, "n_fft": 1024, "hop": 256, "window": "hann",
              "cepstrum": "DCT-II of ln mel amplitude / (2 n_mels), c1..c24 (c0, the level, excluded)",
              "trim_top_db": TRIM_TOP_DB}
LOGMEL_CONFIG = {"sr": 24000, "n_mels": 100, "n_fft": 1024, "win_length": 1024, "hop": 256, "power": 1,
                 "log": "ln(clamp(x, 1e-5))", "trim_top_db": TRIM_TOP_DB}
RESEMBLYZER_FIX = "pip install --no-deps resemblyzer==0.1.4 webrtcvad-wheels==2.0.14.post1 (make venv does this)"


def dist_version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _tool(name: str, detail: str) -> dict[str, Any]:
    return {"name": name, "version": dist_version(name), "detail": detail}


@contextlib.contextmanager
def one_torch_thread():
    """Small feature extractors run up to 10x slower with two intra-op threads on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def as_mono(wav: Any) -> np.ndarray:
    x = np.asarray(wav.detach().cpu().numpy() if hasattr(wav, "detach") else wav, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0) if x.shape[0] < x.shape[1] else x.mean(axis=1)
    if x.ndim != 1 or x.size == 0:
        raise InputError(f"expected a non-empty mono waveform, got shape {np.shape(x)}", "pass audio with samples in it")
    if not np.all(np.isfinite(x)):
        raise InputError("waveform contains NaN or infinite samples", "re-export the audio")
    return x


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    from f5_parity.scoring.audio import resample

    return resample(x, int(sr), int(target))


def _trim(x: np.ndarray) -> np.ndarray:
    import librosa

    y, _ = librosa.effects.trim(x, top_db=TRIM_TOP_DB, frame_length=1024, hop_length=256)
    return y if y.size >= 1024 else x  # all "silence": keep everything rather than fail


def _dtw_path(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    import librosa

    _, wp = librosa.sequence.dtw(X=np.ascontiguousarray(a, dtype=np.float64),
                                 Y=np.ascontiguousarray(b, dtype=np.float64), metric=metric, backtrack=True)
    return np.ascontiguousarray(wp[::-1]).astype(np.int64)


@dataclass
class DtwDistance:
    """A frame distance averaged along an exact DTW path (truth frames vs generated frames)."""

    metric: str  # "mcd_dtw" | "logmel_dtw"
    value: float
    unit: str
    truth_frames: int
    gen_frames: int
    path: np.ndarray = field(repr=False)  # (L, 2) [truth index, gen index], ascending
    per_frame: np.ndarray = field(repr=False)

    @property
    def length_ratio(self) -> float:
        return self.gen_frames / max(1, self.truth_frames)

    @property
    def diagonal_fraction(self) -> float:
        if len(self.path) < 2:
            return 1.0
        d = np.diff(self.path, axis=0)
        return float(np.mean((d[:, 0] == 1) & (d[:, 1] == 1)))

    def to_dict(self) -> dict[str, Any]:
        return {"value": float(self.value), "unit": self.unit, "truth_frames": self.truth_frames,
                "gen_frames": self.gen_frames, "length_ratio": self.length_ratio,
                "diagonal_fraction": self.diagonal_fraction, "per_frame_p90": float(np.percentile(self.per_frame, 90))}


def mel_cepstrum(x: np.ndarray, sr: int) -> np.ndarray:
    """(order+1, frames): DCT-II of ln mel amplitude, in the cepstral units MCD_CONST expects."""
    import librosa
    import scipy.fft

    c = MCD_CONFIG
    mel = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=c["n_fft"], hop_length=c["hop"], win_length=c["n_fft"],
                                         window="hann", center=True, power=2.0, n_mels=c["n_mels"], norm="slaney")
    ln_amp = 0.5 * np.log(np.maximum(mel, 1e-10))
    return scipy.fft.dct(ln_amp, type=2, axis=0)[: c["order"] + 1] / (2.0 * c["n_mels"])


def mcd_dtw(truth: Any, truth_sr: int, gen: Any, gen_sr: int) -> DtwDistance:
    """Mel-cepstral distortion (dB) of `gen` against `truth` after exact DTW on c1..c24."""
    sr = MCD_CONFIG["sr"]
    a = mel_cepstrum(_trim(_resample(as_mono(truth), truth_sr, sr)), sr)[1:]
    b = mel_cepstrum(_trim(_resample(as_mono(gen), gen_sr, sr)), sr)[1:]
    path = _dtw_path(a, b, "euclidean")
    diff = a[:, path[:, 0]] - b[:, path[:, 1]]
    per_frame = MCD_CONST * np.sqrt(np.sum(diff * diff, axis=0))
    return DtwDistance("mcd_dtw", float(per_frame.mean()), "dB", a.shape[1], b.shape[1], path, per_frame)


@functools.lru_cache(maxsize=2)
def _mel_transform():
    import torchaudio

    c = LOGMEL_CONFIG  # the same transform as f5_tts.model.modules.get_vocos_mel_spectrogram
    return torchaudio.transforms.MelSpectrogram(sample_rate=c["sr"], n_fft=c["n_fft"], win_length=c["win_length"],
                                                hop_length=c["hop"], n_mels=c["n_mels"], power=1, center=True,
                                                normalized=False, norm=None)


def vocos_log_mel(x: np.ndarray, sr: int) -> np.ndarray:
    """F5's vocos log-mel (n_mels, frames) of a mono waveform."""
    import torch

    y = _resample(as_mono(x), sr, LOGMEL_CONFIG["sr"])
    with torch.no_grad(), one_torch_thread():
        mel = _mel_transform()(torch.from_numpy(np.ascontiguousarray(y))[None])
    return mel.clamp(min=1e-5).log()[0].numpy().astype(np.float64)


def logmel_dtw(truth: Any, truth_sr: int, gen: Any, gen_sr: int) -> DtwDistance:
    """Mean |Δ ln mel| per bin (nats) along an exact L1 DTW path, on F5's own mel feature."""
    sr = LOGMEL_CONFIG["sr"]
    a = vocos_log_mel(_trim(_resample(as_mono(truth), truth_sr, sr)), sr)
    b = vocos_log_mel(_trim(_resample(as_mono(gen), gen_sr, sr)), sr)
    path = _dtw_path(a, b, "cityblock")
    per_frame = np.mean(np.abs(a[:, path[:, 0]] - b[:, path[:, 1]]), axis=0)
    return DtwDistance("logmel_dtw", float(per_frame.mean()), "nats/bin", a.shape[1], b.shape[1], path, per_frame)


# --- speaker similarity ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _voice_encoder():
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise InputError(f"speaker similarity needs resemblyzer ({exc})", RESEMBLYZER_FIX) from None
    with one_torch_thread():
        return VoiceEncoder(device="cpu", verbose=False)  # weights ship in the wheel: resemblyzer/pretrained.pt


@functools.lru_cache(maxsize=1)
def speaker_encoder_available() -> bool:
    """resemblyzer is installed by `make venv` with --no-deps; a plain `pip install f5-parity` lacks it."""
    import importlib.util

    return importlib.util.find_spec("resemblyzer") is not None and importlib.util.find_spec("webrtcvad") is not None


@functools.lru_cache(maxsize=1)
def resemblyzer_weights() -> dict[str, Any]:
    import resemblyzer

    path = Path(resemblyzer.__file__).parent / "pretrained.pt"
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def speaker_embedding(wav: Any, sr: int) -> tuple[np.ndarray, float]:
    """The GE2E embedding (256,) and the seconds of speech it saw after Resemblyzer's VAD trimming."""
    import librosa

    encoder = _voice_encoder()
    from resemblyzer import preprocess_wav

    x = as_mono(wav)
    pre = preprocess_wav(x, source_sr=int(sr))  # 16 kHz, -30 dBFS, webrtcvad trimming
    if pre.size < 1600:  # VAD heard no speech (noise, silence): embed the whole clip rather than nothing
        pre = librosa.resample(x, orig_sr=int(sr), target_sr=16000)
    with one_torch_thread():
        emb = encoder.embed_utterance(pre)
    return np.asarray(emb, dtype=np.float32), pre.size / 16000.0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(1e-12, float(np.linalg.norm(a) * np.linalg.norm(b))))


def speaker_similarity(voice: Any, voice_sr: int, gen: Any, gen_sr: int) -> float:
    return cosine(speaker_embedding(voice, voice_sr)[0], speaker_embedding(gen, gen_sr)[0])


# --- what a report records ------------------------------------------------------------------------

METRICS = ("mcd", "logmel", "speaker_similarity")
METRIC_UNITS = {"mcd": "dB", "logmel": "nats/bin", "speaker_similarity": "cosine"}
LOWER_IS_BETTER = {"mcd": True, "logmel": True, "speaker_similarity": False}


def describe() -> dict[str, Any]:
    """Which library, model and version computes each metric (the JSON's `acoustic.tools`)."""
    speaker: dict[str, Any] = {"definition": "cosine of GE2E speaker embeddings (embed_utterance), voice = reference",
                               "unit": "cosine", "available": speaker_encoder_available()}
    if speaker["available"]:
        weights = resemblyzer_weights()
        speaker.update(model=f"resemblyzer GE2E VoiceEncoder, {weights['file']} sha256={weights['sha256']}",
                       tools=[_tool("resemblyzer", "VoiceEncoder, preprocess_wav (16 kHz, VAD)"),
                              _tool("webrtcvad-wheels", "voice activity detection"), _tool("torch", "LSTM")])
    else:
        speaker.update(tools=[], note=f"not measured: resemblyzer is not installed; {RESEMBLYZER_FIX}")
    return {
        "mcd": {"definition": "MCD-DTW: mean over the DTW path of 10/ln10*sqrt(2*sum_d (c_d - c'_d)^2), d=1..24",
                "config": MCD_CONFIG, "unit": "dB",
                "tools": [_tool("librosa", "mel filterbank, effects.trim, sequence.dtw (exact DTW)"),
                          _tool("scipy", "fft.dct")],
                "note": "MFCC-style mel-cepstrum; SPTK (pysptk) MCD ranks alike at ~2x these values"},
        "logmel": {"definition": "mean |ln mel_truth - ln mel_gen| per bin along an exact L1 DTW path",
                   "config": LOGMEL_CONFIG, "unit": "nats/bin",
                   "tools": [_tool("torchaudio", "transforms.MelSpectrogram, F5's vocos settings"),
                             _tool("librosa", "effects.trim, sequence.dtw (exact DTW)")]},
        "speaker_similarity": speaker,
    }


@dataclass
class AcousticScore:
    """One generated wav against its truth (when one exists) and the reference voice."""

    mcd: float | None
    logmel: float | None
    speaker_similarity: float | None
    truth: str | None  # which audio was the truth ("reference", "held-out"), None when no truth exists
    length_ratio: float | None = None  # generated / truth frames after trimming: DTW hides tempo, this shows it

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def get(self, metric: str) -> float | None:
        return getattr(self, metric)


class AcousticScorer:
    """Scores wav files; each truth's and voice's features are computed once per file."""

    def __init__(self):
        self._embeddings: dict[str, np.ndarray] = {}

    def _read(self, path: str | Path) -> tuple[np.ndarray, int]:
        from f5_parity.scoring.audio import read_audio

        audio = read_audio(path, min_seconds=0.0)
        return audio.samples, audio.sample_rate

    def embedding(self, path: str | Path) -> np.ndarray:
        key = str(path)
        if key not in self._embeddings:
            self._embeddings[key] = speaker_embedding(*self._read(path))[0]
        return self._embeddings[key]

    def score(self, gen: str | Path, *, voice: str | Path, truth: str | Path | None,
              truth_name: str | None) -> AcousticScore:
        return self.score_samples(*self._read(gen), voice=voice, truth=truth, truth_name=truth_name)

    def score_samples(self, x: np.ndarray, sr: int, *, voice: str | Path, truth: str | Path | None,
                      truth_name: str | None) -> AcousticScore:
        """A generated wav held in memory (the sweep's): the same metrics as score()."""
        mcd = logmel = ratio = None
        if truth is not None:
            t, tsr = self._read(truth)
            mcd = mcd_dtw(t, tsr, x, sr).value
            lm = logmel_dtw(t, tsr, x, sr)
            logmel, ratio = lm.value, lm.length_ratio
        # without resemblyzer (a plain pip install), the distances still count; describe() says why sim is missing
        sim = cosine(self.embedding(voice), speaker_embedding(x, sr)[0]) if speaker_encoder_available() else None
        return AcousticScore(mcd, logmel, sim, truth_name if truth is not None else None, ratio)
