"""Which f5-tts is loaded, judged by its source: a release, a formatting-only change, an edited copy, a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from f5_parity.f5 import environment as E

REPO = Path(__file__).resolve().parents[1]


def _copy_installed_f5(dest: Path) -> Path:
    """The loaded f5_tts package copied under dest/ (what a user does before editing it)."""
    pkg = dest / "f5_tts"
    shutil.copytree(E.loaded_package_dir(), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def _detect_in_subprocess(pythonpath: Path) -> dict:
    """detect() in a fresh interpreter with `pythonpath` first, as `PYTHONPATH=... parity-check` would run."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(REPO / "src")])}
    code = "import json; from f5_parity.f5.environment import detect; print(json.dumps(detect().to_dict()))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=900)  # a hang guard, not a speed claim: a loaded machine may be slow
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_installed_f5_is_recognized_as_its_release():
    env = E.detect()
    assert env.version == version("f5-tts")
    assert env.release == env.version and env.differs == [] and env.trusted and env.mirror_proven
    assert not env.shadowed and env.distribution == "f5-tts"
    # every probed function was found and digested, and the table row is this code's
    assert all(env.digests[name] for name, _, _ in E.PROBED_FUNCTIONS)
    assert env.digests == E.known_sources()[env.version]


def test_supported_releases_are_0_6_2_and_every_1x():
    assert all(E.is_supported(v) for v in ("0.6.2", "1.0.0", "1.0.8", "1.1.0", "1.1.22"))
    assert not any(E.is_supported(v) for v in ("0.3.4", None, "9.9.9"))  # older, or no known digests


def test_infer_defaults_follow_the_release():
    from f5_parity.f5.versions import default_infer_config, infer_cli_facts

    # 0.x: -m names a family; the default F5-TTS builds configs/F5TTS_Base_train.yaml's arch
    assert infer_cli_facts("0.6.2").families == {"F5-TTS": "F5TTS_Base_train", "E2-TTS": "E2TTS_Base_train"}
    assert default_infer_config("0.6.2") == "F5TTS_Base_train"
    assert infer_cli_facts("1.0.0").families is None and default_infer_config("1.1.22") == "F5TTS_v1_Base"


def test_known_table_covers_the_registry_and_tells_releases_apart():
    known = E.known_sources()
    assert {"0.6.2", "1.0.8", "1.1.0", "1.1.22"} <= set(known) and len(known) >= 19
    # the sample block changed in 1.0.8, 1.1.16 and 1.1.17 (f5/versions.py's table rows)
    block = "Trainer.train sample block"
    assert known["1.0.3"][block] != known["1.0.8"][block] == known["1.1.15"][block]
    assert known["1.1.15"][block] != known["1.1.16"][block] != known["1.1.17"][block] == known["1.1.22"][block]
    assert E.compare_with_known(known["1.0.8"], "1.0.8") == ("1.0.8", "1.0.8", [])
    # wrong metadata over a release's code: the code is what counts
    assert E.compare_with_known(known["1.1.22"], "1.0.8")[0] == "1.1.22"


def test_formatting_and_comments_are_not_edits(tmp_path):
    pkg = _copy_installed_f5(tmp_path)
    trainer = pkg / "model" / "trainer.py"
    trainer.write_text(trainer.read_text().replace("steps=nfe_step,", "steps=nfe_step,   # a user's comment\n"))
    digests = E.source_digests(pkg)
    assert digests == E.known_sources()[version("f5-tts")]


def test_edited_copy_first_on_pythonpath_is_reported_by_function(tmp_path):
    pkg = _copy_installed_f5(tmp_path)
    trainer = pkg / "model" / "trainer.py"
    source = trainer.read_text()
    assert source.count("steps=nfe_step,") == 1
    trainer.write_text(source.replace("steps=nfe_step,", "steps=16,"))
    utils = pkg / "infer" / "utils_infer.py"
    utils.write_text(utils.read_text().replace('k.replace("ema_model.", "")', 'k.replace("ema_model.", "module.")'))

    env = _detect_in_subprocess(tmp_path)
    assert env["version"] == version("f5-tts"), "metadata still names the installed release"
    assert env["location"] == str(pkg.resolve()) and env["shadowed"] is True
    assert env["differs"] == ["Trainer.train", "Trainer.train sample block", "utils_infer.load_checkpoint"]
    assert env["trusted"] is False and env["mirror_proven"] is False
    assert "UNKNOWN CODE" in env["summary"] and "Trainer.train sample block" in env["summary"]


def test_git_checkout_reports_its_commit_and_uncommitted_edits(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to test checkout detection")
    src = tmp_path / "F5-TTS" / "src"
    pkg = _copy_installed_f5(src)
    git = ["git", "-C", str(tmp_path / "F5-TTS"), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "checkout"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    env = _detect_in_subprocess(src)
    assert env["git_commit"] == head and env["git_dirty"] is False and env["trusted"] is True

    cfm = pkg / "model" / "cfm.py"
    cfm.write_text(cfm.read_text().replace("cfg_strength=1.0,", "cfg_strength=1.5,", 1))
    env = _detect_in_subprocess(src)
    assert env["git_commit"] == head and env["git_dirty"] is True
    assert env["differs"] == ["CFM.sample"]
