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

import copy
import ctypes
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
from f5_parity.files import sha256_file

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
