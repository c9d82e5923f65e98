"""What `make test-versions` (scripts/test_versions.py) actually ran, so that "proven" means run.

The trainer mirror (paths/trainer.py) is proven for a release only when the matrix ran the real Trainer
against it on a release whose Trainer sample block has the same digest (f5/known_sources.json), and only
for the code it ran: mirror_runs.json records the commit, the releases that were green there, and a
sha256 of every version-sensitive file at that commit. tests/test_matrix_current.py fails when one of
those files changed since, until the matrix is re-run (the script rewrites mirror_runs.json).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

RUNS = Path(__file__).with_name("mirror_runs.json")

# The files whose behaviour depends on the f5-tts release (what the matrix's checks exercise), relative to the
# repository root: recognition, the trainer mirror and its facts, the loader replay, infer_cli's defaults, the
# observation hooks and the spec read off them, the stage engine, full mode's trainer side.
VERSION_SENSITIVE = (
    "src/f5_parity/f5/configs.py", "src/f5_parity/f5/defaults.py", "src/f5_parity/f5/environment.py",
    "src/f5_parity/f5/infercli.py", "src/f5_parity/f5/known_sources.json", "src/f5_parity/f5/versions.py",
    "src/f5_parity/f5/vocab.py", "src/f5_parity/f5/vocoders.py", "src/f5_parity/checkpoint/file.py", "src/f5_parity/checkpoint/loads.py",
    "src/f5_parity/paths/infer.py", "src/f5_parity/paths/observe.py", "src/f5_parity/paths/observed_spec.py",
    "src/f5_parity/paths/spec.py", "src/f5_parity/paths/stages.py", "src/f5_parity/paths/trainer.py",
    "src/f5_parity/paths/trainer_run.py", "src/f5_parity/parity/generate.py", "src/f5_parity/parity/observed.py",
    "src/f5_parity/parity/trainer_side.py",
)


def fingerprint(root: str | Path) -> dict[str, str | None]:
    """sha256 of each version-sensitive file under a source tree (None: the file is absent)."""
    root = Path(root)
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() if (root / p).is_file() else None
            for p in VERSION_SENSITIVE}


@lru_cache(maxsize=1)
def mirror_runs() -> dict[str, Any]:
    return json.loads(RUNS.read_text(encoding="utf-8"))


def run_sample_block_digests() -> dict[str, str]:
    """Trainer sample-block digest -> the release the matrix ran the mirror against for it."""
    from f5_parity.f5.environment import known_sources

    known = known_sources()
    return {known[r]["Trainer.train sample block"]: r for r in mirror_runs()["releases"] if r in known}
