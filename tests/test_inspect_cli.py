"""`parity-check inspect`: exit codes 0/1/2, the JSON, and a user's folder left exactly as it was."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest

from f5_parity.files import sha256_file
from f5_parity.cli.main import main


def _snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size, sha256_file(p)) for p in sorted(folder.iterdir())}


@pytest.fixture()
def user_copy(fixture_set, tmp_path):
    """A user's run folder: the trainer checkpoint and its vocab, copied so the test owns them."""
    folder = tmp_path / "ckpts" / "my_run"
    folder.mkdir(parents=True)
    ckpt = folder / "model_25400.pt"
    shutil.copy2(fixture_set.checkpoints["trainer"], ckpt)
    vocab = folder / "vocab.txt"
    shutil.copy2(fixture_set.vocab, vocab)
    return folder, ckpt, vocab


def test_exit_0_with_json_and_the_folder_untouched(user_copy, fixture_set, tmp_path, capsys):
    folder, ckpt, vocab = user_copy
    before = _snapshot(folder)
    out = tmp_path / "report" / "inspect.json"
    rc = main(["inspect", str(ckpt), "--config", str(fixture_set.config), "--vocab", str(vocab),
               "--train-vocab", str(vocab), "--text", "Olá, mundo!", "--json", str(out)])
    assert rc == 0
    assert _snapshot(folder) == before  # nothing written, touched or added next to the user's file
    text = capsys.readouterr().out
    assert "ckpt.ema_health" in text and "WARN" in text and "PASSED" in text
    data = json.loads(out.read_text())
    assert data["checkpoint"]["sha256"] == sha256_file(ckpt)
    assert [r["probe"] for r in data["results"]] == ["ckpt.anatomy", "ckpt.architecture", "ckpt.load_simulation",
                                                     "ckpt.finite", "ckpt.ema_health", "vocab.files", "vocab.text_coverage"]
    ema = next(r for r in data["results"] if r["probe"] == "ckpt.ema_health")
    assert ema["status"] == "warn" and ema["metrics"]["share"] == pytest.approx(fixture_set.run.share)
    assert data["inputs"]["texts"] == ["Olá, mundo!"]


def test_exit_1_when_a_probe_fails(user_copy, capsys):
    _, ckpt, _ = user_copy
    rc = main(["inspect", str(ckpt)])  # the packaged 2545-token vocab against a 99-token model
    assert rc == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "FAILED" in out


@pytest.mark.parametrize("case,expect", [
    ("zero", "is empty (0 bytes)"),
    ("config", "unknown config 'NoSuchModel'"),
    ("vocab", "--vocab"),
    ("text", "not a checkpoint"),
])
def test_exit_2_with_one_clear_line(user_copy, tmp_path, capsys, case, expect):
    folder, ckpt, _ = user_copy
    args = ["inspect", str(ckpt)]
    if case == "zero":
        empty = tmp_path / "empty.pt"
        empty.write_bytes(b"")
        args = ["inspect", str(empty)]
    elif case == "config":
        args += ["--config", "NoSuchModel"]
    elif case == "vocab":
        args += ["--vocab", str(tmp_path / "missing_vocab.txt")]
    elif case == "text":
        t = tmp_path / "notes.pt"
        t.write_text("not weights\n")
        args = ["inspect", str(t)]
    rc = main(args)
    assert rc == 2
    err = capsys.readouterr().err
    assert expect in err
    assert len(err.strip().splitlines()) == 1  # one line: the problem and its fix
    assert "Traceback" not in err


class _CreatesFile:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_hostile_pickle_exit_2_in_a_fresh_process(tmp_path):
    target = tmp_path / "PWNED"
    bad = tmp_path / "model_9.pt"
    bad.write_bytes(pickle.dumps({"ema_model_state_dict": _CreatesFile(target)}, protocol=2))
    exe = shutil.which("parity-check", path=os.path.dirname(sys.executable))
    cmd = [exe] if exe else [sys.executable, "-m", "f5_parity"]
    proc = subprocess.run(cmd + ["inspect", str(bad)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "300"})
    assert proc.returncode == 2, proc.stderr
    assert "refused" in proc.stderr and "never executes pickles" in proc.stderr
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_9.pt"]
