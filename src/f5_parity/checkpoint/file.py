"""Checkpoint forensics: what a checkpoint file holds and what F5-TTS's loaders will do with it.

Safety first: a checkpoint is opened without executing a pickle (``torch.load(weights_only=True)`` or
safetensors) and memory-mapped, so a 5 GB trainer file costs only the pages that are read; the
optimizer state is never touched; nothing is ever written next to the user's file.

Everything here mirrors f5-tts 1.1.22 (``infer/utils_infer.py`` ``load_checkpoint``,
``model/trainer.py`` ``Trainer.load_checkpoint``, ``api.py`` ``F5TTS.__init__``): load outcomes are
produced by the real torch ``load_state_dict`` on a shape-only (meta device) copy of the model F5
would build, so the error texts are torch's own.
"""

from __future__ import annotations

import ast
import copy
import ctypes
import inspect
import math
import mmap
import os
import pickle
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from f5_parity.errors import InputError, UnsafeCheckpointError
from f5_parity.testing.fixtures import ema_share, sha256_file

# ema_pytorch's defaults, which f5's Trainer uses (it passes no ema_kwargs).
EMA_BETA, EMA_UPDATE_EVERY, EMA_UPDATE_AFTER_STEP = 0.9999, 10, 100
EMA_BUFFERS = ("initted", "step")
# Keys dropped by f5's "patch for backward compatibility, 305e3ea".
LEGACY_MEL_KEYS = ("mel_spec.mel_stft.mel_scale.fb", "mel_spec.mel_stft.spectrogram.window")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP and torch.compile wrappers; f5 strips neither
EMA_PREFIX = "ema_model."
DIM_HEAD_DEFAULT = 64  # every f5 backbone's default

RAW_CONTAINERS = ("model_state_dict", "model", "state_dict")
EMA_CONTAINERS = ("ema_model_state_dict", "ema_state_dict", "ema")
OPTIMIZER_CONTAINERS = ("optimizer_state_dict", "optimizer")
SCHEDULER_CONTAINERS = ("scheduler_state_dict", "scheduler", "lr_scheduler")

_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}


class MissingWeightsError(InputError, KeyError):
    """The file lacks the asked-for weight set; a KeyError too, for callers that look weights up by name."""

    __str__ = InputError.__str__


# --- Tensors without their data ------------------------------------------------------------------


@dataclass(frozen=True)
class TensorMeta:
    """What a tensor is, read from the file's metadata only (never its data)."""

    shape: tuple[int, ...]
    dtype: str  # torch dtype name without 'torch.'

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * torch.empty((), dtype=self.torch_dtype).element_size()

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    @property
    def is_float(self) -> bool:
        return self.torch_dtype.is_floating_point

    def meta_tensor(self) -> torch.Tensor:
        return torch.empty(self.shape, dtype=self.torch_dtype, device="meta")

    @classmethod
    def of(cls, t: torch.Tensor) -> "TensorMeta":
        return cls(tuple(t.shape), str(t.dtype).removeprefix("torch."))


# --- Weight sets -----------------------------------------------------------------------------------


@dataclass
class WeightSet:
    """One set of model weights inside the file ('raw' online model or 'ema'), keys normalized.

    ``meta`` is keyed by the normalized name (wrapper and ``ema_model.`` prefixes stripped, the EMA's
    ``initted``/``step`` buffers set aside); ``stored`` keeps every key exactly as written.
    """

    name: str  # 'raw' | 'ema'
    source: str  # where in the file: 'model_state_dict', 'ema_model_state_dict', '<top level>', ...
    origin: str  # why it is called raw/ema
    stored: dict[str, TensorMeta]  # every key as stored (buffers included)
    meta: dict[str, TensorMeta]  # normalized key -> meta (no EMA buffers)
    key_map: dict[str, str]  # normalized key -> stored key
    prefixes: dict[str, int]  # stripped prefix -> how many keys carried it
    buffers: dict[str, Any]  # the EMA's 'step' / 'initted' values
    _get: Callable[[str], torch.Tensor] = field(repr=False, default=None)  # stored key -> tensor

    @property
    def tensor_count(self) -> int:
        return len(self.meta)

    @property
    def param_count(self) -> int:
        return sum(m.numel for m in self.meta.values())

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.meta.values())

    @property
    def dtypes(self) -> dict[str, int]:
        return dict(Counter(m.dtype for m in self.meta.values()))

    @property
    def has_transformer_prefix(self) -> bool:
        return any(k.startswith("transformer.") for k in self.meta)

    @property
    def legacy_keys(self) -> list[str]:
        return [k for k in self.meta if k in LEGACY_MEL_KEYS]

    def tensor(self, key: str) -> torch.Tensor:
        """The tensor behind a normalized key (memory-mapped: nothing is read until it is used)."""
        return self._get(self.key_map[key])

    def cfm_keys(self) -> dict[str, str]:
        """CFM state-dict key ('transformer.*') -> normalized key, legacy mel buffers left out."""
        out = {}
        for k in self.meta:
            if k in LEGACY_MEL_KEYS:
                continue
            out[k if k.startswith("transformer.") else f"transformer.{k}"] = k
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "origin": self.origin,
            "tensors": self.tensor_count,
            "parameters": self.param_count,
            "bytes": self.nbytes,
            "dtypes": self.dtypes,
            "prefixes": self.prefixes,
            "transformer_prefix": self.has_transformer_prefix,
            "legacy_keys": self.legacy_keys,
            "buffers": self.buffers,
        }


def _normalize(key: str, strip_ema: bool) -> tuple[str, str]:
    """Strip stacked wrapper prefixes ('module._orig_mod.ema_model.x' -> 'x'); return (key, prefix)."""
    prefixes = WRAPPER_PREFIXES + ((EMA_PREFIX,) if strip_ema else ())
    stripped = ""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if key.startswith(p):
                key, stripped, changed = key[len(p):], stripped + p, True
    return key, stripped


def _buffer_value(t: torch.Tensor) -> Any:
    return t.item() if t.numel() == 1 else TensorMeta.of(t)


def _make_weight_set(name: str, source: str, origin: str, stored: dict[str, TensorMeta],
                     get: Callable[[str], torch.Tensor]) -> WeightSet:
    meta, key_map, prefixes, buffers = {}, {}, Counter(), {}
    for k, m in stored.items():
        norm, prefix = _normalize(k, strip_ema=True)
        if norm in EMA_BUFFERS:
            buffers[norm] = _buffer_value(get(k))  # a scalar: reading it costs one page
            continue
        meta[norm], key_map[norm] = m, k
        if prefix:
            prefixes[prefix] += 1
    return WeightSet(name, source, origin, stored, meta, key_map, dict(prefixes), buffers, get)


def _looks_ema(keys: Iterable[str]) -> bool:
    keys = list(keys)
    return any(_normalize(k, False)[0].startswith(EMA_PREFIX) for k in keys) or any(
        _normalize(k, True)[0] in EMA_BUFFERS for k in keys
    )


def _to_meta(obj: Any) -> Any:
    """Replace every tensor by a meta tensor of the same shape and dtype (no data is read)."""
    if isinstance(obj, torch.Tensor):
        return TensorMeta.of(obj).meta_tensor()
    if isinstance(obj, dict):
        return {k: _to_meta(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_meta(v) for v in obj)
    return copy.deepcopy(obj)


def _tensors_of(obj: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


# --- Page release ----------------------------------------------------------------------------------

_MADV_DONTNEED = 4
_PAGE = mmap.PAGESIZE


def _libc():
    try:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return lib
    except (OSError, AttributeError):
        return None


class PageReleaser:
    """Hands the pages of a memory-mapped checkpoint back to the OS once a tensor has been read.

    Only ranges that lie inside a private, read-only-used file mapping of *this* checkpoint are
    released (MADV_DONTNEED on clean file pages: a later access reads them again from the file), so
    memory from anywhere else can never be dropped. Without /proc (non-Linux) it does nothing.
    """

    def __init__(self, path: Path):
        self.ranges: list[tuple[int, int]] = []
        self.released_bytes = 0
        self._libc = _libc()
        try:
            st = os.stat(path)
            real = os.path.realpath(path)
            with open("/proc/self/maps") as f:
                for line in f:
                    parts = line.split(maxsplit=5)
                    if len(parts) < 6 or parts[4] != str(st.st_ino) or parts[5].strip() != real:
                        continue
                    if "p" not in parts[1]:  # only private mappings (torch/safetensors MAP_PRIVATE)
                        continue
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    self.ranges.append((lo, hi))
        except OSError:
            self.ranges = []

    def release(self, t: torch.Tensor) -> None:
        if not self.ranges or self._libc is None or t.device.type != "cpu":
            return
        start, n = t.data_ptr(), t.numel() * t.element_size()
        lo = -(-start // _PAGE) * _PAGE  # only whole pages that belong to this tensor alone
        hi = ((start + n) // _PAGE) * _PAGE
        if hi <= lo or not any(a <= lo and hi <= b for a, b in self.ranges):
            return
        if self._libc.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED) == 0:
            self.released_bytes += hi - lo


# --- Opening a file safely -------------------------------------------------------------------------


def _sniff(path: Path, size: int) -> str:
    """'zip' (torch >= 1.6), 'safetensors', 'pickle' (legacy torch or plain pickle), or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 8 + n <= size:
            return "safetensors"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    return "unknown"


def _describe_unknown(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(64)
    try:
        text = head.decode("utf-8")
        first = text.splitlines()[0] if text.splitlines() else text
        return f"it is text, starting with {first[:40]!r}"
    except UnicodeDecodeError:
        return f"it starts with bytes {head[:8].hex(' ')}"


def _refuse_pickle(path: Path, exc: Exception) -> UnsafeCheckpointError:
    msg = str(exc)
    m = re.search(r"GLOBAL ([\w.]+)", msg) or re.search(r"Unsupported global: GLOBAL ([\w.]+)", msg)
    if m:
        need = f"needs the global {m.group(1)}"
    else:
        m = re.search(r"(Unsupported operand \d+|[^\n]*Unsupported[^\n]*)", msg)
        need = f"uses pickle features outside torch's safe subset ({m.group(1).strip() if m else 'unreadable'})"
    return UnsafeCheckpointError(
        f"{path}: refused — this file's pickle {need}; f5-parity never executes pickles",
        "re-save it with torch.save(state_dict) from a trusted environment or convert it to safetensors",
    )


def _torch_load(path: Path, kind: str) -> tuple[Any, bool, list[str]]:
    notes: list[str] = []
    use_mmap = kind == "zip"
    if kind == "pickle":
        notes.append("legacy (non-zip) torch format: it cannot be memory-mapped, so it was read fully into memory")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as exc:
        raise _refuse_pickle(path, exc) from None
    except RuntimeError as exc:
        msg = str(exc)
        if "central directory" in msg or "PytorchStreamReader" in msg:
            raise InputError(
                f"{path}: truncated or corrupt torch archive ({msg.split('.')[0]}; {path.stat().st_size:,} bytes)",
                "the save was interrupted or the copy is incomplete: copy the checkpoint again and compare its sha256",
            ) from None
        if "TorchScript" in msg:
            raise InputError(f"{path}: a TorchScript archive, not a state dict",
                             "export the model's state_dict with torch.save(model.state_dict())") from None
        raise InputError(f"{path}: torch cannot read it ({msg.splitlines()[0][:200]})",
                         "check that it is a checkpoint saved by torch.save") from None
    except (EOFError, KeyError, ValueError, struct.error) as exc:
        raise InputError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})",
                         "the file is damaged or not a checkpoint: copy it again") from None
    return obj, use_mmap, notes


class CheckpointFile:
    """A checkpoint opened for reading only: the file's structure, its weight sets, lazily-read tensors."""

    def __init__(self, path: Path, fmt: str, obj: Any, mmapped: bool, notes: list[str], handle: Any = None):
        self.path = path
        self.format = fmt  # 'pt' | 'safetensors'
        self.mmapped = mmapped
        self.notes = notes
        self.size = path.stat().st_size
        self._obj = obj  # the torch.load result ('pt') or None ('safetensors')
        self._handle = handle  # the safetensors handle
        self._sha256: str | None = None
        self._sets: dict[str, WeightSet] | None = None
        self.cache: dict[str, Any] = {}  # analysis results, computed once per file
        self._releaser: PageReleaser | None = None

    # -- facts ----------------------------------------------------------------------------------

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)  # streamed in 1 MiB blocks: no RSS growth
        return self._sha256

    @property
    def extension_format(self) -> str:
        """The format f5's loaders assume from the file name (they never look at the content)."""
        return "safetensors" if str(self.path).split(".")[-1] == "safetensors" else "pt"

    def _safetensors_keys(self) -> list[str]:
        """Keys in the order safetensors.torch.load_file returns them (data offset), which f5 sees."""
        keys = getattr(self._handle, "offset_keys", None)
        return list(keys() if keys else self._handle.keys())

    @property
    def top_level_keys(self) -> list[str]:
        if self.format == "safetensors":
            return self._safetensors_keys()
        return [str(k) for k in self._obj] if isinstance(self._obj, dict) else []

    @property
    def is_bare(self) -> bool:
        """True when the top level itself is the state dict (tensors keyed by parameter name)."""
        return self.format == "safetensors" or _is_tensor_dict(self._obj)

    @property
    def update(self) -> int | None:
        """The trainer's update counter ('update', or legacy 'step' before f992c4e), when present."""
        if self.format == "safetensors" or self.is_bare or not isinstance(self._obj, dict):
            return None
        for key in ("update", "step"):
            v = self._obj.get(key)
            if v is not None:
                return int(v.item() if isinstance(v, torch.Tensor) else v)
        return None

    def container(self, names: Iterable[str]) -> tuple[str, Any] | tuple[None, None]:
        if self.format == "safetensors" or not isinstance(self._obj, dict) or self.is_bare:
            return None, None
        for n in names:
            if n in self._obj:
                return n, self._obj[n]
        return None, None

    def optimizer_summary(self) -> dict[str, Any] | None:
        """Counts from the optimizer state's metadata only: its tensors' data is never read."""
        key, opt = self.container(OPTIMIZER_CONTAINERS)
        if key is None:
            return None
        if not isinstance(opt, dict):
            return {"key": key, "type": type(opt).__name__}
        groups = opt.get("param_groups") or []
        state = opt.get("state") or {}
        tensors = [v for s in state.values() if isinstance(s, dict) for v in s.values() if isinstance(v, torch.Tensor)]
        return {
            "key": key,
            "param_groups": len(groups),
            "params_per_group": [len(g.get("params", [])) for g in groups],
            "state_entries": len(state),
            "state_tensors": len(tensors),
            "state_bytes": sum(t.numel() * t.element_size() for t in tensors),  # shape x dtype, no read
            "hyperparameters": {k: v for k, v in (groups[0].items() if groups else []) if k != "params"},
        }

    def scheduler_state(self) -> dict[str, Any] | None:
        key, sched = self.container(SCHEDULER_CONTAINERS)
        return None if key is None else {"key": key, "state": sched}

    # -- weights ----------------------------------------------------------------------------------

    def _getter(self, container: Any) -> Callable[[str], torch.Tensor]:
        if self.format == "safetensors":
            return self._handle.get_tensor
        return container.__getitem__

    def weight_sets(self) -> dict[str, WeightSet]:
        """The raw and/or EMA weights the file holds, by name ('raw', 'ema')."""
        if self._sets is not None:
            return self._sets
        sets: dict[str, WeightSet] = {}
        if self.format == "safetensors":
            stored = {}
            for k in self._safetensors_keys():
                sl = self._handle.get_slice(k)
                stored[k] = TensorMeta(tuple(sl.get_shape()), _SAFETENSORS_DTYPES.get(sl.get_dtype(), sl.get_dtype().lower()))
            if _looks_ema(stored):
                origin = "ema_model.* keys / EMA buffers (the official EMA export)"
            else:
                origin = ("unprefixed .safetensors: f5 reads any .safetensors as the EMA set (use_ema=True) "
                          "and as the raw set with use_ema=False; the file cannot say which weights these are")
            sets["ema"] = _make_weight_set("ema", "<top level>", origin, stored, self._handle.get_tensor)
        elif self.is_bare:
            stored = {k: TensorMeta.of(v) for k, v in self._obj.items()}
            name = "ema" if _looks_ema(stored) else "raw"
            origin = ("ema_model.* keys / EMA buffers at the top level" if name == "ema"
                      else "a bare state dict without EMA markers (taken as the online model)")
            sets[name] = _make_weight_set(name, "<top level>", origin, stored, self._obj.__getitem__)
        elif isinstance(self._obj, dict):
            for name, names in (("raw", RAW_CONTAINERS), ("ema", EMA_CONTAINERS)):
                key, sd = self.container(names)
                if key is None or not isinstance(sd, dict) or not _tensors_of(sd):
                    continue
                stored = {k: TensorMeta.of(v) for k, v in _tensors_of(sd).items()}
                origin = f"the {key!r} entry"
                sets[name] = _make_weight_set(name, key, origin, stored, sd.__getitem__)
        if not sets:
            raise InputError(
                f"{self.path}: no model weights found (top-level keys: {self.top_level_keys[:12]})",
                "pass an F5 checkpoint: a trainer model_*.pt, a pretrained .pt/.safetensors, or a saved state_dict",
            )
        self._sets = sets
        return sets

    def state_dict(self, which: str = "raw", dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """A dict that f5's CFM loads strictly: keys 'transformer.*', prefixes and legacy mel keys gone.

        Tensors stay memory-mapped until used (unless ``dtype`` asks for a cast, which reads them).
        """
        sets = self.weight_sets()
        if which not in sets:
            raise MissingWeightsError(
                f"{self.path}: has no {which!r} weights (it holds: {', '.join(sets)})",
                "use_ema=True needs the EMA set, use_ema=False the raw set",
            )
        ws = sets[which]
        out = {}
        for cfm_key, norm in ws.cfm_keys().items():
            t = ws.tensor(norm)
            out[cfm_key] = t.to(dtype) if dtype is not None and t.is_floating_point() else t
        return out

    def meta_tree(self) -> Any:
        """The file's top level with every weight tensor replaced by a same-shape meta tensor.

        Used to replay f5's loaders without reading data. The optimizer's tensors are left out:
        only its param_groups are needed to validate a load.
        """
        if self.format == "safetensors":
            return {k: m.meta_tensor() for k, m in self.weight_sets()["ema"].stored.items()}
        if self.is_bare:
            return {k: TensorMeta.of(v).meta_tensor() for k, v in self._obj.items()}
        tree: dict[str, Any] = {}
        for k, v in self._obj.items():
            if k in OPTIMIZER_CONTAINERS and isinstance(v, dict):
                tree[k] = {"state": {}, "param_groups": copy.deepcopy(v.get("param_groups", []))}
            elif isinstance(v, torch.Tensor) and v.numel() <= 1:
                tree[k] = v.clone()  # a top-level 'step'/'update' counter: its value is used
            else:
                tree[k] = _to_meta(v)
        return tree

    def releaser(self) -> PageReleaser | None:
        if not self.mmapped:
            return None
        if self._releaser is None:
            self._releaser = PageReleaser(self.path)
        return self._releaser

    def close(self) -> None:
        """Drop the file's mapping (tensors handed out earlier keep it alive until they go)."""
        self._obj = self._handle = self._sets = self._releaser = None
        self.cache.clear()

    def __enter__(self) -> "CheckpointFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "bytes": self.size,
            "sha256": self.sha256,
            "memory_mapped": self.mmapped,
        }


def open_checkpoint(path: str | os.PathLike) -> CheckpointFile:
    """Open a checkpoint for reading without executing any pickle; tensors stay memory-mapped.

    Raises InputError for a missing, empty, truncated or foreign file and UnsafeCheckpointError
    (an InputError) for a pickle that needs globals outside torch's weights_only allow-list.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file", "check the path to the checkpoint")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a checkpoint file",
                         "pass the file itself, e.g. ckpts/<run>/model_last.pt")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{p}: is empty (0 bytes)", "the save was interrupted or the copy failed: copy it again")
    kind = _sniff(p, size)
    notes: list[str] = []
    if kind == "safetensors":
        from safetensors import safe_open

        try:
            handle = safe_open(str(p), framework="pt", device="cpu")
            list(handle.keys())
        except Exception as exc:  # SafetensorError has no importable base class
            raise InputError(f"{p}: corrupt safetensors file ({exc})",
                             "the file is truncated or damaged: copy it again") from None
        ck = CheckpointFile(p, "safetensors", None, True, notes, handle)
    elif kind in ("zip", "pickle"):
        if kind == "zip" and not zipfile.is_zipfile(p):
            raise InputError(
                f"{p}: truncated or corrupt torch archive (no zip central directory; {size:,} bytes)",
                "the save was interrupted or the copy is incomplete: copy the checkpoint again and compare its sha256",
            )
        obj, mmapped, notes = _torch_load(p, kind)
        if not isinstance(obj, dict):
            raise InputError(f"{p}: holds a {type(obj).__name__}, not a state dict",
                             "save the model's weights with torch.save(model.state_dict())")
        ck = CheckpointFile(p, "pt", obj, mmapped, notes)
    elif str(p).endswith(".safetensors"):
        raise InputError(f"{p}: not a safetensors file (header unreadable; {_describe_unknown(p)})",
                         "the file is truncated or damaged: copy it again")
    else:
        raise InputError(
            f"{p}: not a checkpoint — neither a torch archive nor safetensors ({_describe_unknown(p)})",
            "pass the .pt or .safetensors file the trainer or exporter wrote",
        )
    if ck.extension_format != ck.format:
        ck.notes.append(
            f"the content is {ck.format} but the name ends in .{str(p).split('.')[-1]}: f5 picks its reader by "
            "the extension and will fail to read it"
        )
    ck.weight_sets()  # fail now, with a clear line, when the file holds no weights
    return ck


def layout(ck: CheckpointFile) -> str:
    """A name for what kind of file this is."""
    sets = ck.weight_sets()
    if "raw" in sets and "ema" in sets and ck.optimizer_summary():
        return "trainer checkpoint (raw + EMA + optimizer, as Trainer.save_checkpoint writes)"
    if "raw" in sets and "ema" in sets:
        return "raw + EMA weights (no optimizer state)"
    if "ema" in sets:
        return "EMA-only export (like the official pretrained files)" if sets["ema"].buffers or sets["ema"].prefixes \
            else "unprefixed weights export (read by f5 as EMA weights)"
    return "model weights only (no EMA)"


def anatomy(ck: CheckpointFile) -> dict[str, Any]:
    """Every structural fact of the file, from metadata only (the sha256 streams the bytes once)."""
    sets = ck.weight_sets()
    top = ck.top_level_keys
    prefixes: Counter = Counter()
    for ws in sets.values():
        prefixes.update(ws.prefixes)
    ema = sets.get("ema")
    return {
        "file": {
            "path": str(ck.path),
            "bytes": ck.size,
            "sha256": ck.sha256,
            "format": ck.format,
            "memory_mapped": ck.mmapped,
            "extension_format": ck.extension_format,
        },
        "layout": layout(ck),
        "top_level_keys": top if not ck.is_bare else top[:5] + ([f"... ({len(top)} tensor keys)"] if len(top) > 5 else []),
        "bare_state_dict": ck.is_bare,
        "weight_sets": {k: ws.summary() for k, ws in sets.items()},
        "update": ck.update,
        "ema_step": ema.buffers.get("step") if ema else None,
        "ema_initted": ema.buffers.get("initted") if ema else None,
        "prefixes": dict(prefixes),
        "transformer_prefix": {k: ws.has_transformer_prefix for k, ws in sets.items()},
        "legacy_keys": sorted({k for ws in sets.values() for k in ws.legacy_keys}),
        "optimizer": ck.optimizer_summary(),
        "scheduler": (ck.scheduler_state() or {}).get("key"),
        "notes": list(ck.notes),
    }


# --- Architecture from the weights ----------------------------------------------------------------

# Settings the weights cannot reveal: why each matters (f5-paths.md, "Settings the checkpoint does not record").
UNREVEALED = {
    "pe_attn_head": "RoPE on the first head only (v0: 1) or on all heads (v1: null): no error either way",
    "text_mask_padding": "filler positions masked in the text ConvNeXt (v1: True) or not (v0: False): no error",
    "text_embedding_average_upsampling": "text upsampling mode (DiT only, default False): no error",
    "mel_spec_type": "vocos or bigvgan mel features: no error, wrong features",
    "mel parameters": "load_model uses utils_infer's globals (24 kHz, 100 mels, hop 256), never the YAML",
    "vocab order": "same size, another order loads fine and maps every id to another character",
    "attn_mask_enabled": "attention masking of batch padding: no error",
}


@dataclass
class Architecture:
    backbone: str | None  # 'DiT' | 'UNetT' | 'MMDiT' | None when unrecognised
    settings: dict[str, Any]  # constructor kwargs the weights reveal (dim, depth, heads, ...)
    mel_dim: int | None
    text_num_embeds: int | None  # vocab size the embedding was built for (rows - 1)
    embedding_rows: int | None
    evidence: dict[str, str]  # setting -> the key/shape it was read from
    unrevealed: dict[str, str]  # setting -> why it matters
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "settings": self.settings,
            "mel_dim": self.mel_dim,
            "text_num_embeds": self.text_num_embeds,
            "embedding_rows": self.embedding_rows,
            "evidence": self.evidence,
            "unrevealed": self.unrevealed,
            "assumptions": self.assumptions,
        }


def _block_indices(keys: Iterable[str], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in keys if (m := pat.match(k))})


def infer_architecture(meta: dict[str, TensorMeta]) -> Architecture:
    """Read the backbone and its sizes from key names and shapes (keys with or without 'transformer.')."""
    t = {k.removeprefix("transformer."): m for k, m in meta.items()}
    ev: dict[str, str] = {}
    s: dict[str, Any] = {}
    assumptions: list[str] = []

    def shape(key: str) -> tuple[int, ...] | None:
        return t[key].shape if key in t else None

    if any(k.startswith("audio_embed.") for k in t) or "transformer_blocks.0.attn_norm_x.linear.weight" in t:
        backbone, blocks, attn, ff = "MMDiT", "transformer_blocks.", "transformer_blocks.0.attn.", "transformer_blocks.0.ff_x.ff.0.0.weight"
    elif any(k.startswith("layers.") for k in t):
        backbone, blocks, attn, ff = "UNetT", "layers.", "layers.0.2.", "layers.0.4.ff.0.0.weight"
    elif any(k.startswith("transformer_blocks.") for k in t):
        backbone, blocks, attn, ff = "DiT", "transformer_blocks.", "transformer_blocks.0.attn.", "transformer_blocks.0.ff.ff.0.0.weight"
    else:
        return Architecture(None, {}, None, None, None, {}, dict(UNREVEALED),
                            ["no f5 backbone recognised (no transformer_blocks.* or layers.* keys)"])

    proj = shape("proj_out.weight")
    mel_dim, dim = (proj[0], proj[1]) if proj else (None, None)
    if proj:
        ev["dim"] = ev["mel_dim"] = f"proj_out.weight {list(proj)}"
    s["dim"] = dim
    depth = _block_indices(t, blocks)
    s["depth"] = len(depth)
    ev["depth"] = f"{len(depth)} {blocks}N blocks"

    if "rotary_embed.inv_freq" in t:
        dim_head = 2 * t["rotary_embed.inv_freq"].numel
        ev["dim_head"] = f"rotary_embed.inv_freq {list(t['rotary_embed.inv_freq'].shape)} (dim_head / 2)"
    elif attn + "q_norm.weight" in t:
        dim_head = t[attn + "q_norm.weight"].numel
        ev["dim_head"] = f"{attn}q_norm.weight {list(t[attn + 'q_norm.weight'].shape)}"
    else:
        dim_head = DIM_HEAD_DEFAULT
        assumptions.append(f"dim_head assumed {DIM_HEAD_DEFAULT} (f5's default; no rotary inv_freq or q_norm key)")
    q = shape(attn + "to_q.weight")
    if q:
        s["heads"] = q[0] // dim_head
        ev["heads"] = f"{attn}to_q.weight {list(q)} / dim_head {dim_head}"
    if dim_head != DIM_HEAD_DEFAULT:
        s["dim_head"] = dim_head
    f = shape(ff)
    if f and dim:
        mult = f[0] / dim
        s["ff_mult"] = int(mult) if mult.is_integer() else mult
        ev["ff_mult"] = f"{ff} {list(f)} / dim {dim}"

    emb = shape("text_embed.text_embed.weight")
    rows = emb[0] if emb else None
    if emb:
        ev["text_num_embeds"] = f"text_embed.text_embed.weight {list(emb)} (vocab + 1 filler row)"
        if backbone != "MMDiT":
            s["text_dim"] = emb[1]
            ev["text_dim"] = ev["text_num_embeds"]
    if backbone != "MMDiT":
        conv = _block_indices(t, "text_embed.text_blocks.")
        s["conv_layers"] = len(conv)
        ev["conv_layers"] = f"{len(conv)} text_embed.text_blocks.N blocks"
    s["qk_norm"] = "rms_norm" if attn + "q_norm.weight" in t else None
    ev["qk_norm"] = f"{attn}q_norm.weight {'present' if s['qk_norm'] else 'absent'}"
    unrevealed = dict(UNREVEALED)
    if backbone == "DiT":
        s["long_skip_connection"] = "long_skip_connection.weight" in t
        ev["long_skip_connection"] = f"long_skip_connection.weight {'present' if s['long_skip_connection'] else 'absent'}"
    else:
        unrevealed.pop("text_embedding_average_upsampling")
    if backbone == "UNetT":
        half = [i for i in depth if i >= len(depth) // 2]
        if half and all(f"layers.{i}.0.weight" in t for i in half):
            s["skip_connect_type"] = "concat"
            ev["skip_connect_type"] = "layers.N.0.weight (skip projection) in the later half"
        else:
            unrevealed["skip_connect_type"] = "'add' and 'none' hold the same weights: no error"
    return Architecture(backbone, s, mel_dim, rows - 1 if rows else None, rows, ev, unrevealed, assumptions)


# --- f5-tts's shipped configs and user YAMLs -------------------------------------------------------


@dataclass
class ModelConfig:
    """The model section of an f5 YAML: what load_model / finetune build the backbone from."""

    name: str
    source: str  # 'f5-tts:configs/<name>.yaml' or the YAML's path
    backbone: str
    arch: dict[str, Any]
    mel_spec: dict[str, Any]
    tokenizer: str | None = None
    tokenizer_path: str | None = None
    shipped: bool = False

    @property
    def mel_spec_type(self) -> str:
        return self.mel_spec.get("mel_spec_type", "vocos")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "backbone": self.backbone,
            "arch": self.arch,
            "mel_spec": self.mel_spec,
            "tokenizer": self.tokenizer,
            "tokenizer_path": self.tokenizer_path,
            "shipped": self.shipped,
        }


def _config_from_yaml(data: Any, name: str, source: str, shipped: bool) -> ModelConfig:
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("arch"), dict) or not model.get("backbone"):
        raise InputError(f"{source}: not an f5 model config (needs model.backbone and model.arch)",
                         "pass a YAML in f5-tts's schema (like f5_tts/configs/F5TTS_v1_Base.yaml) or a config name")
    return ModelConfig(
        name=str(model.get("name") or name),
        source=source,
        backbone=str(model["backbone"]),
        arch=dict(model["arch"]),
        mel_spec=dict(model.get("mel_spec") or {}),
        tokenizer=model.get("tokenizer"),
        tokenizer_path=model.get("tokenizer_path"),
        shipped=shipped,
    )


def shipped_configs() -> dict[str, ModelConfig]:
    """The configs inside the installed f5-tts (f5_tts/configs/*.yaml), read, never hard-coded."""
    import yaml
    from importlib.resources import files

    out = {}
    folder = files("f5_tts").joinpath("configs")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            name = entry.name[: -len(".yaml")]
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            out[name] = _config_from_yaml(data, name, f"f5-tts:configs/{entry.name}", shipped=True)
    return out


def load_config(spec: str) -> ModelConfig:
    """A shipped config by name (F5TTS_v1_Base, ...) or a YAML path in f5's schema."""
    import yaml

    shipped = shipped_configs()
    if spec in shipped:
        return shipped[spec]
    p = Path(spec)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise InputError(f"{spec}: no such config file", f"pass a YAML path or one of: {', '.join(shipped)}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputError(f"{spec}: invalid YAML ({str(exc).splitlines()[0]})", "fix the YAML syntax") from None
        return _config_from_yaml(data, p.stem, str(p), shipped=False)
    raise InputError(f"unknown config {spec!r}", f"use one of: {', '.join(shipped)} — or a YAML path")


def _backbone_class(name: str):
    import f5_tts.model as m

    cls = getattr(m, name, None)
    if cls is None or name not in ("DiT", "UNetT", "MMDiT"):
        raise InputError(f"unknown backbone {name!r}", "f5-tts ships DiT, UNetT and MMDiT")
    return cls


def _effective(backbone: str, arch: dict[str, Any], mel_dim: int) -> dict[str, Any]:
    """The settings a backbone really gets: the YAML's arch over the class's own defaults."""
    sig = inspect.signature(_backbone_class(backbone).__init__)
    eff = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    eff.update(arch)
    if "text_dim" in eff and eff["text_dim"] is None:
        eff["text_dim"] = mel_dim  # DiT/UNetT: text_dim defaults to mel_dim
    return eff


@dataclass
class ConfigMatch:
    config: str
    source: str
    matches: bool
    differences: list[dict[str, Any]]  # {'setting', 'weights', 'config'}
    unrevealed_values: dict[str, Any]  # what this config sets for the settings weights cannot reveal

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "source": self.source,
            "matches": self.matches,
            "differences": self.differences,
            "unrevealed_values": self.unrevealed_values,
        }


def match_config(arch: Architecture, cfg: ModelConfig) -> ConfigMatch:
    diffs = []
    if arch.backbone != cfg.backbone:
        diffs.append({"setting": "backbone", "weights": arch.backbone, "config": cfg.backbone})
    mel_cfg = int(cfg.mel_spec.get("n_mel_channels", utils_infer_constant("n_mel_channels")))
    if arch.mel_dim is not None and arch.mel_dim != mel_cfg:
        diffs.append({"setting": "mel_dim", "weights": arch.mel_dim, "config": mel_cfg})
    unrevealed_values = {}
    if arch.backbone == cfg.backbone and arch.backbone is not None:
        eff = _effective(cfg.backbone, cfg.arch, mel_cfg)
        for k, v in arch.settings.items():
            want = eff.get(k, DIM_HEAD_DEFAULT if k == "dim_head" else None)
            if k == "skip_connect_type" and want is None:
                want = "concat"
            if v != want:
                diffs.append({"setting": k, "weights": v, "config": want})
        if "dim_head" not in arch.settings and eff.get("dim_head", DIM_HEAD_DEFAULT) != DIM_HEAD_DEFAULT:
            diffs.append({"setting": "dim_head", "weights": DIM_HEAD_DEFAULT, "config": eff["dim_head"]})
        for k in ("pe_attn_head", "text_mask_padding", "text_embedding_average_upsampling", "attn_mask_enabled"):
            if k in eff:
                unrevealed_values[k] = eff[k]
    unrevealed_values["mel_spec_type"] = cfg.mel_spec_type
    return ConfigMatch(cfg.name, cfg.source, not diffs, diffs, unrevealed_values)


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

    cls = _backbone_class(cfg.backbone)
    mel_dim = mel_dim or int(utils_infer_constant("n_mel_channels"))
    arch = dict(cfg.arch)
    if arch.get("attn_backend") not in (None, "torch"):
        arch["attn_backend"] = "torch"  # same weights; flash_attn need not be installed to compare shapes
    with torch.device("meta"):
        transformer = cls(**arch, text_num_embeds=vocab_size, mel_dim=mel_dim)
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


API_DEFAULT_MODEL = "F5TTS_v1_Base"  # f5_tts.api.F5TTS(model=...) and infer_cli --model default


def _cfg_for_api(given: ModelConfig | None) -> ModelConfig:
    """F5TTS(model=NAME) takes shipped names only; without one it builds F5TTS_v1_Base."""
    if given is not None and given.shipped:
        return given
    return shipped_configs()[API_DEFAULT_MODEL]


def default_config(arch: Architecture) -> ModelConfig:
    """The config to simulate when none is given: a shipped one that fits (the CLI default first), else
    the settings read from the weights (what a hand-written YAML would hold)."""
    fits = [m.config for m in match_shipped(arch) if m.matches]
    if fits:
        return shipped_configs()[API_DEFAULT_MODEL if API_DEFAULT_MODEL in fits else fits[0]]
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


# --- EMA health ------------------------------------------------------------------------------------


def module_group(key: str) -> str:
    """Group a CFM key by module: time_embed, text_embed, input_embed, transformer_blocks, output, ..."""
    parts = key.removeprefix("transformer.").split(".")
    head = parts[0]
    if head in ("norm_out", "proj_out"):
        return "output"
    return head


@dataclass
class GroupDistance:
    group: str
    tensors: int
    parameters: int
    rel_l2: float  # ||ema - raw|| / ||raw||
    diff_norm: float
    raw_norm: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "tensors": self.tensors, "parameters": self.parameters,
                "rel_l2": self.rel_l2, "diff_norm": self.diff_norm, "raw_norm": self.raw_norm}


@dataclass
class EmaHealth:
    has_raw: bool
    has_ema: bool
    ema_step: int | None
    ema_initted: bool | None
    update: int | None
    inherited_step: int | None
    share: float | None  # estimated share of the fine-tuned weights inside the EMA
    updates_for_90: int | None  # fine-tune updates for the EMA to hold 90 % of the fine-tune
    overall: GroupDistance | None
    groups: list[GroupDistance]
    text_rows: dict[str, Any] | None
    verdict: str
    mostly_pretrained: bool
    examined_bytes: int = 0
    released_bytes: int = 0
    share_table: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "has_raw": self.has_raw,
            "has_ema": self.has_ema,
            "ema_step": self.ema_step,
            "ema_initted": self.ema_initted,
            "update": self.update,
            "inherited_step": self.inherited_step,
            "share": self.share,
            "updates_for_90_percent": self.updates_for_90,
            "overall": self.overall.to_dict() if self.overall else None,
            "groups": [g.to_dict() for g in self.groups],
            "text_rows": self.text_rows,
            "verdict": self.verdict,
            "mostly_pretrained": self.mostly_pretrained,
            "examined_bytes": self.examined_bytes,
            "released_bytes": self.released_bytes,
            "share_table": self.share_table,
            "ema_settings": {"beta": EMA_BETA, "update_every": EMA_UPDATE_EVERY,
                             "update_after_step": EMA_UPDATE_AFTER_STEP},
        }


def updates_for_share(target: float, beta: float = EMA_BETA, update_every: int = EMA_UPDATE_EVERY) -> int:
    """Fine-tune updates after which an inherited (decay-pinned) EMA holds `target` of the fine-tune."""
    return int(math.ceil(math.log(1 - target) / math.log(beta))) * update_every


def _sq(x: torch.Tensor) -> float:
    return float(x.double().pow(2).sum())


def ema_health(ck: CheckpointFile, vocab_chars: list[str] | None = None, *, top_rows: int = 10) -> EmaHealth:
    """How far the EMA sits from the raw weights, and how much of the fine-tune it can hold.

    Streams tensor pairs one at a time and hands each one's pages back to the OS after reading it,
    so peak memory stays at one pair of tensors whatever the checkpoint size.
    """
    sets = ck.weight_sets()
    raw, ema = sets.get("raw"), sets.get("ema")
    step = ema.buffers.get("step") if ema else None
    initted = ema.buffers.get("initted") if ema else None
    step = int(step) if isinstance(step, (int, float, bool)) else None
    initted = bool(initted) if isinstance(initted, (int, float, bool)) else None
    update = ck.update
    inherited = step - update if step is not None and update is not None else None
    share = None
    if inherited is not None and update is not None and inherited > EMA_UPDATE_AFTER_STEP and update >= 0:
        share = ema_share(update, inherited_step=inherited, beta=EMA_BETA, update_every=EMA_UPDATE_EVERY,
                          update_after_step=EMA_UPDATE_AFTER_STEP)
    table = {n: ema_share(n, inherited_step=max(step or 0, EMA_UPDATE_AFTER_STEP + 1))
             for n in (10_000, 25_000, 50_000, 100_000)} if step else {}
    n90 = updates_for_share(0.9)

    groups: dict[str, list[float]] = {}
    text_rows = None
    examined = 0
    releaser = ck.releaser()
    if raw and ema:
        rk, ek = raw.cfm_keys(), ema.cfm_keys()
        for key in rk:
            if key not in ek or key.endswith("rotary_embed.inv_freq"):
                continue  # inv_freq is a constant buffer, the same in both
            mr, me = raw.meta[rk[key]], ema.meta[ek[key]]
            if mr.shape != me.shape or not mr.is_float:
                continue
            r, e = raw.tensor(rk[key]), ema.tensor(ek[key])
            rf, ef = r.float(), e.float()
            d2, r2 = _sq(ef - rf), _sq(rf)
            g = groups.setdefault(module_group(key), [0, 0, 0.0, 0.0])
            g[0] += 1
            g[1] += r.numel()
            g[2] += d2
            g[3] += r2
            if key.endswith("text_embed.text_embed.weight") and r.dim() == 2:
                row_d = (ef - rf).double().norm(dim=1)
                row_r = rf.double().norm(dim=1).clamp_min(1e-12)
                rel = (row_d / row_r).tolist()
                text_rows = _text_row_report(rel, vocab_chars, top_rows)
                text_rows["rel_l2"] = math.sqrt(d2 / r2) if r2 else 0.0
            examined += mr.nbytes + me.nbytes
            del rf, ef
            if releaser:
                releaser.release(r)
                releaser.release(e)
    gd = [GroupDistance(name, int(v[0]), int(v[1]), math.sqrt(v[2] / v[3]) if v[3] else 0.0, math.sqrt(v[2]),
                        math.sqrt(v[3])) for name, v in groups.items()]
    overall = None
    if gd:
        d2 = sum(g.diff_norm**2 for g in gd)
        r2 = sum(g.raw_norm**2 for g in gd)
        overall = GroupDistance("all", sum(g.tensors for g in gd), sum(g.parameters for g in gd),
                                math.sqrt(d2 / r2) if r2 else 0.0, math.sqrt(d2), math.sqrt(r2))

    verdict, mostly = _ema_verdict(raw is not None, ema is not None, step, update, inherited, share, overall, n90)
    return EmaHealth(raw is not None, ema is not None, step, initted, update, inherited, share, n90, overall, gd,
                     text_rows, verdict, mostly, examined, releaser.released_bytes if releaser else 0, table)


def _text_row_report(rel: list[float], vocab_chars: list[str] | None, top: int) -> dict[str, Any]:
    rows = len(rel)
    body = sorted(rel[1:]) if rows > 1 else []
    median = body[len(body) // 2] if body else 0.0
    order = sorted(range(1, rows), key=lambda i: -rel[i])[:top]

    def token(i: int) -> str | None:
        if vocab_chars is None or i - 1 >= len(vocab_chars):
            return None
        return vocab_chars[i - 1]

    outliers = [i for i in range(1, rows) if median > 0 and rel[i] > 3 * median]
    return {
        "rows": rows,
        "filler_row_rel_l2": rel[0],
        "median_row_rel_l2": median,
        "max_row_rel_l2": max(rel[1:]) if rows > 1 else 0.0,
        "outlier_rows": len(outliers),
        "outlier_rule": "row distance > 3x the median row",
        "farthest_rows": [{"row": i, "vocab_id": i - 1, "token": token(i), "rel_l2": rel[i]} for i in order],
    }


def _ema_verdict(has_raw, has_ema, step, update, inherited, share, overall, n90) -> tuple[str, bool]:
    dist = f"; EMA vs raw relative L2 distance {overall.rel_l2:.3f}" if overall else ""
    if not has_ema:
        return ("no EMA weights in this file: use_ema=True loaders (infer_cli, F5TTS) cannot use it; "
                "infer with use_ema=False", False)
    if not has_raw:
        extra = ""
        if step:
            extra = (f"; a fine-tune that starts from it inherits EMA step {step:,}, so after N updates its EMA "
                     f"holds only 1 - {EMA_BETA}^(N/{EMA_UPDATE_EVERY}) of the fine-tune "
                     f"({n90:,} updates for 90 %)")
        return f"EMA weights only (step {step if step is not None else 'unknown'}): nothing to compare{extra}", False
    if share is not None:
        pre = 1 - share
        head = (f"EMA step {step:,} = {inherited:,} inherited + {update:,} fine-tune updates; with decay {EMA_BETA} "
                f"applied every {EMA_UPDATE_EVERY} updates the EMA holds about {share:.0%} of the fine-tuned weights{dist}")
        if share < 0.5:
            return (f"the EMA is still about {pre:.0%} the pretrained model: infer with use_ema=False "
                    f"(or train ~{max(n90 - update, 0):,} more updates for the EMA to hold 90 %) — {head}", True)
        return f"the EMA holds most of the fine-tune ({share:.0%}): use_ema=True is sound — {head}", False
    if step is not None and update is not None:
        if inherited is not None and inherited <= EMA_UPDATE_AFTER_STEP:
            return (f"EMA step {step:,} matches update {update:,}: the EMA started with this run (no inherited "
                    f"pretraining lag){dist}", False)
        return f"EMA step {step:,} is below update {update:,}: the EMA was reset or replaced during the run{dist}", False
    return f"EMA step or update count unknown: the lag cannot be estimated{dist}", False
