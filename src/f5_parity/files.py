"""File facts every layer needs: content digests, the model cache folder, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


_SHA256: dict[tuple, str] = {}  # (file identity, size, mtime) -> digest, for this process


def _identity(path: str | Path) -> tuple:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The file's sha256, read once per process while its size and mtime hold (a sweep hashes each
    checkpoint to key its cache and again in the anatomy probe: gigabytes each at Base size)."""
    key = _identity(path)
    if key in _SHA256:
        return _SHA256[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    if _identity(path) == key:  # unchanged while it was read: the digest is the file's
        _SHA256[key] = digest
    return digest


def cache_dir() -> Path:
    """Where assembled models live: $F5_PARITY_CACHE, else $XDG_CACHE_HOME/f5-parity, else ~/.cache/f5-parity."""
    root = os.environ.get("F5_PARITY_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "f5-parity"


def _file_mode() -> int:
    """What open() would give a new file here: 0o666 minus the umask (mkstemp's 0o600 is too private)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """A temporary file in the target folder, then a rename: a reader never sees half a file, and no
    temporary file survives an error or an interrupt."""
    return write_atomic(path, lambda f: f.write(data))


def write_atomic(path: str | Path, write) -> Path:
    """`write(binary file)` into a temporary file of the target folder, then a rename (as write_bytes_atomic),
    for data too large to hold twice in memory (a checkpoint)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_text_atomic(path: str | Path, text: str) -> Path:
    """UTF-8 text with '\n' line ends, written like write_bytes_atomic."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
