"""f5-tts's reference-audio cache: preprocess_ref_audio_text keeps the path of each clipped temp wav."""

from __future__ import annotations

import os
import sys


def forget_preprocessed_under(folder: str | os.PathLike) -> int:
    """Drop the cached entries whose temp wav lies under `folder` (about to be removed): a later call in
    the same process would otherwise be handed a path that no longer exists. Returns how many."""
    utils_infer = sys.modules.get("f5_tts.infer.utils_infer")
    cache = getattr(utils_infer, "_ref_audio_cache", None)
    if not isinstance(cache, dict):
        return 0
    root = os.path.join(os.path.abspath(folder), "")
    stale = [k for k, v in cache.items() if os.path.abspath(str(v)).startswith(root)]
    for k in stale:
        del cache[k]
    return len(stale)
