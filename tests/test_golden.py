"""Golden tests: the same commands write the same run.json, and the help texts are byte-equal.

History. The files in tests/golden/ were first written by the code before the layered layout
(commit a622d77), and the restructuring reproduced them (commit 8ad29c4: equal apart from two keys
added on purpose). Issues 10-12 and 15 then changed run.json on purpose: the infer side is the
observed one (observed_infer, the "infer (observed)" spec, the run.observed_infer probe), inspect
gained ckpt.finite, full mode gained seeds and acoustic evidence, every run states its environment,
and run/demo/fingerprint/damage gained flags. The golden files were regenerated from the code at
that point (`python tests/test_golden.py --regenerate`), so from here on any change to what a user
sees shows up as a diff of these files, reviewed in the commit that makes it.

`environment` is set aside: it describes the machine (f5-tts location, torch build, device), not the
run; tests/test_environment.py checks it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from golden_normalize import REPO, differences, normalize  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
FX = "fixtures/ptbr-tiny"
MACHINE_KEYS = ("environment",)

RUNS = {
    "run-clean": ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
                  "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt",
                  "--infer-config", f"{FX}/F5TTS_ptbr_tiny.yaml", "--no-infer-ema", "--vocoder", "griffin-lim",
                  "--mode", "fast", "--seed", "0"],
    "run-v1": ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
               "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt", "--infer-config",
               "F5TTS_v1_Base", "--no-infer-ema", "--vocoder", "griffin-lim", "--mode", "fast", "--seed", "0"],
    "demo-fast": ["demo", "--mode", "fast"],
}
# The full-mode demo is not a golden run: it costs minutes, and tests/test_cli_e2e.py checks it end to end.
EXIT = {"run-clean": 0, "run-v1": 1, "demo-fast": 0}
HELP = ["main", "run", "inspect", "score", "fingerprint", "damage", "demo", "sweep"]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "80", "HF_HUB_OFFLINE": "1"}


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "f5_parity", *args], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=1200)


def _normalized_run(name: str, out: Path) -> tuple[int, dict, str]:
    import torch

    from f5_parity.files import cache_dir

    proc = _cli([*RUNS[name], "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    for key in MACHINE_KEYS:
        data.pop(key, None)
    # where torch lives is the environment's, not the product's: inside the repo's .venv here, elsewhere after
    # `pip install .` into a user's environment (an error's `where` names torch's own file)
    site = str(Path(torch.__file__).resolve().parents[1])
    places = {str(out): "<OUT>", REPO: "<REPO>", str(cache_dir()): "<CACHE>", site: "<SITE-PACKAGES>"}
    return proc.returncode, normalize(data, places), proc.stderr[-2000:]


def _help(command: str) -> str:
    proc = _cli(["--help"] if command == "main" else [command, "--help"])
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("name", list(RUNS))
def test_run_json_is_unchanged(name, tmp_path):
    rc, actual, stderr = _normalized_run(name, tmp_path / "out")
    assert rc == EXIT[name], stderr
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    diffs = differences(expected, actual)
    assert not diffs, "\n".join(diffs[:20])


@pytest.mark.parametrize("command", HELP)
def test_help_text_is_unchanged(command):
    assert _help(command) == (GOLDEN / f"help-{command}.txt").read_text()


if __name__ == "__main__" and sys.argv[1:] == ["--regenerate"]:
    import tempfile

    for name in RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            rc, data, stderr = _normalized_run(name, Path(tmp) / "out")
            assert rc == EXIT[name], (name, rc, stderr)
            (GOLDEN / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
            print("wrote", name)
    for command in HELP:
        (GOLDEN / f"help-{command}.txt").write_text(_help(command))
