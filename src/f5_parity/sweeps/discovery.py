"""Which checkpoints a sweep reads, and each file's identity: discovery (F5's ckpts/<exp>/ folder, a glob, files),
the update a file name holds, and the sha256 cache that keys every result by the file's content.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from f5_parity.errors import InputError
from f5_parity.files import sha256_file, write_json_atomic

Progress = Callable[[str, float | None], None]
CHECKPOINT_SUFFIXES = (".pt", ".safetensors", ".pth", ".ckpt")
_NUMBERED = re.compile(r"^model_(\d+)$")
WEIGHT_SETS = ("raw", "ema")


def _candidate(p: Path) -> bool:
    """A checkpoint file, not a partial one: hidden temporaries (.x.tmp) and *.tmp/*.part are skipped."""
    return p.is_file() and p.suffix in CHECKPOINT_SUFFIXES and not p.name.startswith(".")


def discover_checkpoints(sources: list[str | Path]) -> list[Path]:
    """F5's ckpts/<exp>/ folder (model_<update>.pt, model_last.pt, pruned .pt/.safetensors), globs, or files."""
    found: dict[str, Path] = {}
    for source in sources:
        text = str(source)
        if any(ch in text for ch in "*?["):
            paths = [Path(p) for p in sorted(glob.glob(text))]
        else:
            p = Path(text)
            if p.is_dir():
                paths = sorted(p.iterdir())
            elif p.is_file():
                if p.suffix not in CHECKPOINT_SUFFIXES:
                    raise InputError(f"{p} is not a checkpoint (.pt or .safetensors)",
                                     "give a checkpoints folder, a glob, or checkpoint files")
                paths = [p]
            else:
                raise InputError(f"{p}: no such file or folder", "give a checkpoints folder (ckpts/<exp>/), a glob "
                                 "in quotes ('ckpts/model_*.pt'), or checkpoint files")
        for path in paths:
            if _candidate(path):
                found[str(path.resolve())] = path
    return list(found.values())


def update_from_name(path: Path) -> int | None:
    m = _NUMBERED.match(path.stem)
    return int(m.group(1)) if m else None


@dataclass
class FileState:
    """What a poll saw of a file; a file is settled when two polls agree (the trainer is not writing it)."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "FileState":
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns)


class FileChanging(Exception):
    """The file changed while it was hashed (a trainer writing it): left for the next poll."""


class HashCache:
    """sha256 per (path, size, mtime): a re-run or a watch poll does not re-read unchanged files."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, Any] = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}

    def sha256(self, path: Path) -> str:
        state = FileState.of(path)
        key = str(path.resolve())
        entry = self.data.get(key)
        if entry and entry["size"] == state.size and entry["mtime_ns"] == state.mtime_ns:
            return entry["sha256"]
        digest = sha256_file(path)
        if FileState.of(path) != state:
            raise FileChanging(f"{path} changed while it was read")
        self.data[key] = {"size": state.size, "mtime_ns": state.mtime_ns, "sha256": digest}
        return digest

    def save(self) -> None:
        if self.path:
            write_json_atomic(self.path, self.data)
