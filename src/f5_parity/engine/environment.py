"""The process-wide setting a command runs in: a temp folder of its own, removed when it ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def private_tempdir():
    """Temp files (f5's preprocess_ref_audio_text leaves a tmpXXXX.wav per reference) go to a folder of
    this command's own, removed when it ends; the system temp folder is left as it was."""
    from f5_parity.f5.refcache import forget_preprocessed_under

    folder = tempfile.mkdtemp(prefix="parity-check-")
    saved_dir = tempfile.tempdir
    saved_env = {k: os.environ.get(k) for k in ("TMPDIR", "TEMP", "TMP")}
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder  # child processes (ffmpeg, espeak-ng) too
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = saved_dir
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        forget_preprocessed_under(folder)
        shutil.rmtree(folder, ignore_errors=True)
