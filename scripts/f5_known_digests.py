"""Generate src/f5_parity/f5/known_sources.json: the source digests of every f5-tts release on the registry.

The digests are computed by f5_parity.f5.environment.source_digests (the same function that digests the
loaded code at run time) from each release's wheel, fetched with `pip download --no-deps` into a cache folder.
`make test-versions` checks that each installed release digests to its row here.

    python scripts/f5_known_digests.py [--cache DIR] [VERSION ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from f5_parity.f5.environment import KNOWN_SOURCES, source_digests

REGISTRY_VERSIONS = ("0.3.4", "0.6.2", "1.0.0", "1.0.3", "1.0.8", "1.1.0", "1.1.4", "1.1.5", "1.1.6", "1.1.7",
                     "1.1.8", "1.1.9", "1.1.10", "1.1.15", "1.1.16", "1.1.17", "1.1.20", "1.1.21", "1.1.22")


def wheel_for(version: str, cache: Path) -> Path:
    wheel = cache / f"f5_tts-{version}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"f5-tts=={version}",
                        "-d", str(cache)], check=True)
    return wheel


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.environ.get("F5_PARITY_CACHE", "/work/venvs-cache") + "/wheels")
    ap.add_argument("versions", nargs="*", default=list(REGISTRY_VERSIONS))
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows = {}
    for version in args.versions:
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(wheel_for(version, cache)) as z:
                z.extractall(tmp, [n for n in z.namelist() if n.startswith("f5_tts/")])
            rows[version] = source_digests(Path(tmp) / "f5_tts")
    data = {"generated_by": "scripts/f5_known_digests.py from the registry's f5-tts wheels",
            "python": platform.python_version(), "generated": dt.date.today().isoformat(), "versions": rows}
    KNOWN_SOURCES.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(rows)} releases -> {KNOWN_SOURCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
