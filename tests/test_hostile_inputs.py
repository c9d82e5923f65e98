"""Hostile inputs, as a careful adversary would try them: each gets its exit code and exactly one line on
stderr, no traceback, every input file byte-identical afterwards (sha256), nothing new in the system temp
folder or the working directory, and no output folder left behind by a refused command.

The table runs in-process (cli.main) with the system temp folder pointed at a folder of the test's own;
only the exit of a real process is checked in a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from f5_parity import cli
from f5_parity.scoring.audio import write_wav

TEXT = "Eu não sei se você vai gostar da ação."


class _Evil:
    """A pickle that would create a marker file if anything ever executed it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def world(fixture_set, pt_cases, tmp_path_factory) -> dict[str, str]:
    """The user's files (copies of the tiny fixture) and every odd file the table feeds in."""
    root = tmp_path_factory.mktemp("hostile")
    fs = fixture_set
    w: dict[str, str] = {"root": str(root), "text": TEXT}
    w["ckpt"] = str(shutil.copy(fs.checkpoints["trainer"], root / "model_25400.pt"))
    w["vocab"] = str(shutil.copy(fs.vocab, root / "vocab.txt"))
    w["config"] = str(shutil.copy(fs.config, root / "F5TTS_tiny.yaml"))
    w["wav"] = str(shutil.copy(pt_cases[0].wav, root / "ref.wav"))
    (root / "adir").mkdir()
    w["adir"] = str(root / "adir")
    (root / "bin_vocab.txt").write_bytes(bytes(range(256)) * 8)
    w["bin_vocab"] = str(root / "bin_vocab.txt")
    (root / "dup_vocab.txt").write_text(Path(w["vocab"]).read_text(encoding="utf-8") + "a\n", encoding="utf-8")
    w["dup_vocab"] = str(root / "dup_vocab.txt")
    (root / "bad.yaml").write_text("model:\n  backbone: DiT\n  arch: [dim, 1\n  x: 2\n", encoding="utf-8")
    w["bad_yaml"] = str(root / "bad.yaml")
    (root / "bad_arch.yaml").write_text("model:\n  backbone: DiT\n  arch:\n    dim: banana\n    depth: 2\n", encoding="utf-8")
    w["bad_arch_yaml"] = str(root / "bad_arch.yaml")
    (root / "bad_cases.toml").write_text("[[case]]\nref_audio = \"ref.wav\"\nref_text = \n", encoding="utf-8")
    w["bad_toml"] = str(root / "bad_cases.toml")
    w["zeros_wav"] = str(write_wav(root / "zeros.wav", np.zeros(48000, dtype=np.float32), 24000))
    # a dataset folder with its own wavs/
    ds = root / "dataset"
    (ds / "wavs").mkdir(parents=True)
    shutil.copy(w["wav"], ds / "wavs" / "a.wav")
    (ds / "metadata.csv").write_text(f"audio_file|text\nwavs/a.wav|{TEXT}\n", encoding="utf-8")
    w["dataset"] = str(ds)
    # an input wav already inside a would-be output folder's wavs/
    (root / "prior" / "wavs").mkdir(parents=True)
    w["prior_wav"] = str(shutil.copy(w["wav"], root / "prior" / "wavs" / "ref.wav"))
    w["prior"] = str(root / "prior")
    # a training run's checkpoints folder (F5's ckpts/<exp>/), what `sweep` reads
    (root / "ckpts" / "run").mkdir(parents=True)
    w["run"] = str(root / "ckpts" / "run")
    w["run_ckpt"] = str(shutil.copy(w["ckpt"], root / "ckpts" / "run" / "model_300.pt"))
    # a vocoder folder whose weights are a pickle that executes code
    evil = root / "evil_vocoder"
    evil.mkdir()
    (evil / "config.yaml").write_text("feature_extractor: {}\n", encoding="utf-8")
    w["marker"] = str(root / "pickle_was_executed")
    with open(evil / "pytorch_model.bin", "wb") as f:
        pickle.dump(_Evil(w["marker"]), f)
    w["evil_vocoder"] = str(evil)
    w["evil_ckpt"] = str(shutil.copy(evil / "pytorch_model.bin", root / "evil_model.pt"))
    (root / "infer.toml").write_text('model = "F5TTS_v1_Base"\nnfe_step = \n', encoding="utf-8")
    w["bad_infer_toml"] = str(root / "infer.toml")
    # a wrapper file without the function it is asked for
    (root / "wrapper.py").write_text("def other(*a, **k):\n    return None\n", encoding="utf-8")
    w["wrapper"] = str(root / "wrapper.py")
    # every weight NaN or inf (a diverged run), as a bare state dict
    sd = torch.load(fs.checkpoints["bare"], map_location="cpu", weights_only=True)
    bad = {k: (torch.full_like(v, math.nan) if v.is_floating_point() else v) for k, v in sd.items()}
    first_float = next(k for k, v in sd.items() if v.is_floating_point())
    bad[first_float] = torch.full_like(sd[first_float], math.inf)
    torch.save(bad, root / "nan_model.pt")
    w["nan_ckpt"] = str(root / "nan_model.pt")
    from f5_parity.demo.fixture import fixture_dir

    w["fixture_vocab"] = str(fixture_dir() / "vocab.txt")
    w["fixture_dir"] = str(fixture_dir())
    return w


def _digests(world: dict[str, str]) -> dict[str, str]:
    from f5_parity.demo.fixture import fixture_dir

    files = [p for p in Path(world["root"]).rglob("*") if p.is_file()]
    files += [p for p in fixture_dir().rglob("*") if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working directory and a system temp folder of the test's own."""
    systmp = tmp_path / "system-temp"
    systmp.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    monkeypatch.setenv("TMPDIR", str(systmp))
    monkeypatch.chdir(cwd)
    return {"systmp": systmp, "cwd": cwd, "out": tmp_path / "out"}


BASE_RUN = ["run", "{ckpt}", "--train-config", "{config}", "--train-vocab", "{vocab}", "--infer-config", "{config}",
            "--infer-vocab", "{vocab}", "--vocoder", "griffin-lim", "--mode", "fast", "--out", "{out}"]
REF = ["--ref-audio", "{wav}", "--ref-text", "{text}"]
SWEEP = ["sweep", "{run}", "--train-config", "{config}", "--train-vocab", "{vocab}", "--vocoder", "griffin-lim",
         "--out", "{out}"]


def run_args(*extra, ref=True):
    return BASE_RUN + (REF if ref else []) + list(extra)


# (id, argv, exit code, a needle of the one stderr line)
CASES = [
    # outputs never land on inputs
    ("inspect-json-is-the-checkpoint", ["inspect", "{ckpt}", "--json", "{ckpt}"], 2, "is the input CHECKPOINT"),
    ("inspect-json-is-the-vocab", ["inspect", "{ckpt}", "--vocab", "{vocab}", "--json", "{vocab}"], 2, "is the input --vocab"),
    ("inspect-json-is-a-directory", ["inspect", "{ckpt}", "--json", "{adir}"], 2, "--json points at a folder"),
    ("inspect-json-names-a-folder", ["inspect", "{ckpt}", "--json", "out/"], 2, "names a folder"),
    ("score-json-is-a-directory", ["score", "{wav}", "--text", "{text}", "--json", "{adir}"], 2, "points at a folder"),
    ("inspect-json-under-a-file", ["inspect", "{ckpt}", "--json", "{ckpt}/x.json"], 2, "is a file, not a folder"),
    ("run-json-is-the-checkpoint", run_args("--json", "{ckpt}"), 2, "is the input checkpoint"),
    ("run-junit-is-the-vocab", run_args("--junit", "{vocab}"), 2, "is the input --train-vocab"),
    ("run-json-is-the-reference", run_args("--json", "{wav}"), 2, "is the input --ref-audio"),
    ("run-json-is-a-directory", run_args("--json", "{adir}"), 2, "--json points at a folder"),
    ("run-junit-is-a-directory", run_args("--junit", "{adir}"), 2, "--junit points at a folder"),
    ("run-json-and-junit-same-file", run_args("--json", "{out}.x", "--junit", "{out}.x"), 2, "name the same file"),
    ("run-out-is-a-file", BASE_RUN[:-1] + ["{ckpt}"] + REF, 2, "is a file, not a folder"),
    ("run-out-under-a-file", BASE_RUN[:-1] + ["{ckpt}/reports"] + REF, 2, "is a file, not a folder"),
    ("run-out-is-the-dataset", BASE_RUN[:-1] + ["{dataset}", "--dataset", "{dataset}"], 2, "holds the input --dataset"),
    ("run-out-would-overwrite-the-reference", BASE_RUN[:-1] + ["{prior}", "--ref-audio", "{prior_wav}", "--ref-text",
                                                              "{text}"], 2, "would overwrite the input --ref-audio"),
    ("run-json-is-the-wrapper", run_args("--infer-path", "{wrapper}:other", "--json", "{wrapper}"), 2, "is the input --infer-path"),
    ("score-json-is-the-wav", ["score", "{wav}", "--text", "{text}", "--json", "{wav}"], 2, "is the input WAV"),
    ("fingerprint-json-is-the-checkpoint", ["fingerprint", "{ckpt}", "--ref-audio", "{wav}", "--ref-text", "{text}",
                                            "--json", "{ckpt}"], 2, "is the input checkpoint"),
    ("damage-out-is-a-file", ["damage", "--out", "{ckpt}"], 2, "is a file, not a folder"),
    ("demo-out-is-a-file", ["demo", "--out", "{ckpt}"], 2, "is a file, not a folder"),
    ("demo-junit-is-the-bundled-vocab", ["demo", "--out", "{out}", "--junit", "{fixture_vocab}"], 2,
     "inside the input folder the bundled fixture"),
    ("demo-junit-is-a-directory", ["demo", "--out", "{out}", "--junit", "{adir}"], 2, "--junit points at a folder"),
    # every command, sweep included, refuses an output on or inside one of its inputs (issue 24)
    ("sweep-junit-is-a-checkpoint", SWEEP + ["--junit", "{run_ckpt}"], 2, "model_300.pt, inside the input folder RUN"),
    ("sweep-junit-inside-the-run-folder", SWEEP + ["--junit", "{run}/sweep.xml"], 2,
     "would land inside the input folder RUN"),
    ("sweep-out-is-the-run-folder", SWEEP[:-2] + ["--out", "{run}"], 2, "inside the input folder RUN"),
    ("sweep-out-inside-the-run-folder", SWEEP[:-2] + ["--out", "{run}/reports"], 2, "inside the input folder RUN"),
    ("sweep-junit-is-the-vocab", SWEEP + ["--junit", "{vocab}"], 2,
     "is the input --train-vocab"),
    ("sweep-junit-is-the-config", SWEEP + ["--junit", "{config}"], 2, "is the input --train-config"),
    ("sweep-junit-is-a-glob-checkpoint", ["sweep", "{run}/model_*.pt", "--train-config", "{config}",
                                          "--train-vocab", "{vocab}", "--out", "{out}", "--junit", "{run_ckpt}"], 2,
     "is the input RUN"),
    ("sweep-junit-is-the-reference", SWEEP + REF + ["--junit", "{wav}"], 2, "is the input --ref-audio"),
    ("sweep-out-is-a-file", SWEEP[:-2] + ["--out", "{ckpt}"], 2, "is a file, not a folder"),
    ("sweep-seeds-zero", SWEEP + ["--seeds", "0"], 2, "--seeds 0"),
    ("sweep-train-log-missing", SWEEP + ["--train-log", "{run}/no-such-runs"], 2, "--train-log"),
    ("sweep-train-log-without-events", SWEEP + ["--train-log", "{run}"], 2, "no tensorboard events file"),
    ("sweep-bad-weights", SWEEP + ["--weights", "best"], 2, "--weights"),
    ("sweep-missing-run", ["sweep", "{root}/nope", "--out", "{out}"], 2, "no such file or folder"),
    ("sweep-device-banana", SWEEP + ["--device", "banana"], 2, "--device"),
    ("run-out-inside-the-dataset", BASE_RUN[:-1] + ["{dataset}/reports", "--dataset", "{dataset}"], 2,
     "inside the input folder --dataset"),
    ("run-json-inside-the-dataset", run_args("--dataset", "{dataset}", "--json", "{dataset}/run.json", ref=False), 2,
     "inside the input folder --dataset"),
    ("run-junit-is-the-config", run_args("--junit", "{config}"), 2, "is the input --train-config"),
    ("run-json-is-the-infer-cli-checkpoint", run_args("--infer-cli", "f5-tts_infer-cli -p {run_ckpt}", "--json",
                                                      "{run_ckpt}"), 2, "is the input --infer-cli"),
    ("fingerprint-json-is-the-vocab", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--vocab", "{vocab}",
                                       "--json", "{vocab}"], 2, "is the input --vocab"),
    ("fingerprint-json-is-the-reference", ["fingerprint", "{ckpt}", "--ref-audio", "{wav}", "--ref-text", "{text}",
                                           "--json", "{wav}"], 2, "is the input --ref-audio"),
    ("fingerprint-json-inside-the-dataset", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--json",
                                             "{dataset}/fp.json"], 2, "inside the input folder --dataset"),
    ("inspect-json-is-the-config", ["inspect", "{ckpt}", "--config", "{config}", "--json", "{config}"], 2,
     "is the input --config"),
    ("inspect-json-is-the-train-vocab", ["inspect", "{ckpt}", "--train-vocab", "{vocab}", "--json", "{vocab}"], 2,
     "is the input --train-vocab"),
    ("score-json-is-the-second-wav", ["score", "{wav}", "{prior_wav}", "--text", "{text}", "--text", "{text}",
                                      "--json", "{prior_wav}"], 2, "is the input WAV"),
    ("damage-out-is-the-bundled-fixture", ["damage", "--out", "{fixture_dir}"], 2, "the bundled fixture"),
    ("damage-out-inside-the-bundled-fixture", ["damage", "--out", "{fixture_dir}/damage"], 2,
     "inside the input folder the bundled fixture"),
    ("demo-out-inside-the-bundled-fixture", ["demo", "--out", "{fixture_dir}/demo"], 2,
     "inside the input folder the bundled fixture"),
    # the script's arguments follow `--`, for --infer-script only
    ("run-double-dash-without-a-script", run_args("--", "--text", "Olá"), 2, "no --infer-script"),
    ("inspect-double-dash", ["inspect", "{ckpt}", "--", "--text", "Olá"], 2, "only run and sweep take them"),
    # numbers where they enter
    ("nfe-negative", run_args("--nfe-step", "-5"), 2, "--nfe-step -5"),
    ("nfe-zero", run_args("--nfe-step", "0"), 2, "--nfe-step 0"),
    ("cfg-inf", run_args("--cfg-strength", "inf"), 2, "--cfg-strength inf"),
    ("cfg-nan", run_args("--cfg-strength", "nan"), 2, "--cfg-strength nan"),
    ("sway-nan", run_args("--sway-sampling-coef", "nan"), 2, "--sway-sampling-coef"),
    ("speed-zero", run_args("--speed", "0"), 2, "--speed 0"),
    ("speed-negative", run_args("--speed", "-1"), 2, "--speed -1"),
    ("fix-duration-zero", run_args("--fix-duration", "0"), 2, "--fix-duration"),
    ("seed-huge", run_args("--seed", str(2**70)), 2, "--seed"),
    ("seed-negative", run_args("--seed", "-1"), 2, "--seed -1"),
    ("seed-not-a-number", run_args("--seed", "abc"), 2, "invalid int value"),
    ("device-banana", run_args("--device", "banana"), 2, "--device 'banana'"),
    ("device-cuda-index", run_args("--device", "cuda:99"), 2, "--device cuda:99"),
    ("fingerprint-draws-zero", ["fingerprint", "{ckpt}", "--ref-audio", "{wav}", "--ref-text", "{text}", "--draws", "0"], 2, "--draws 0"),
    ("fingerprint-draws-negative", ["fingerprint", "{ckpt}", "--ref-audio", "{wav}", "--ref-text", "{text}", "--draws", "-2"], 2, "--draws -2"),
    ("fingerprint-cases-negative", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--cases", "-1"], 2, "--cases -1"),
    ("fingerprint-cases-zero", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--cases", "0"], 2, "--cases 0"),
    ("fingerprint-device-banana", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--device", "banana"], 2, "--device"),
    ("damage-cases-negative", ["damage", "--out", "{out}", "--cases", "-1"], 2, "--cases -1"),
    ("damage-seed-negative", ["damage", "--out", "{out}", "--seed", "-3"], 2, "--seed -3"),
    ("damage-unknown-factor", ["damage", "--out", "{out}", "--factor", "bogus"], 2, "unknown factor"),
    ("demo-cases-zero", ["demo", "--out", "{out}", "--cases", "0"], 2, "--cases 0"),
    ("score-device-banana", ["score", "{wav}", "--text", "{text}", "--device", "banana"], 2, "--device"),
    # files by content
    ("run-binary-vocab", run_args("--train-vocab", "{bin_vocab}"), 2, "binary file"),
    ("run-duplicate-vocab", run_args("--train-vocab", "{dup_vocab}"), 2, "duplicate token"),
    ("run-checkpoint-as-yaml", run_args("--train-config", "{ckpt}"), 2, "binary file"),
    ("run-malformed-yaml", run_args("--train-config", "{bad_yaml}"), 2, "bad.yaml:4:"),
    ("run-yaml-that-builds-no-model", run_args("--train-config", "{bad_arch_yaml}"), 2, "--train-config"),
    ("run-missing-yaml", run_args("--train-config", "nope.yaml"), 2, "nope.yaml"),
    ("run-vocab-is-a-directory", run_args("--train-vocab", "{adir}"), 2, "is a directory"),
    ("run-checkpoint-is-a-directory", ["run", "{adir}"], 2, "is a directory"),
    ("run-missing-checkpoint", ["run", "{root}/nope.pt"], 2, "no such file"),
    ("run-ref-audio-is-a-directory", BASE_RUN + ["--ref-audio", "{adir}", "--ref-text", "{text}"], 2, "is a directory"),
    ("run-silent-reference", BASE_RUN + ["--ref-audio", "{zeros_wav}", "--ref-text", "{text}"], 2, "silent"),
    ("run-ref-text-without-audio", run_args("--ref-text", "{text}", ref=False), 2, "without --ref-audio"),
    ("run-gen-text-without-audio", run_args("--gen-text", "Olá.", ref=False), 2, "without --ref-audio"),
    ("run-infer-cli-missing-checkpoint", run_args("--infer-cli", "f5-tts_infer-cli -p nope.pt"), 2, "-p"),
    ("run-infer-cli-negative-nfe", run_args("--infer-cli", "f5-tts_infer-cli --nfe_step -3"), 2, "--nfe_step -3"),
    ("run-infer-path-missing-file", run_args("--infer-path", "{root}/missing.py:synthesize"), 2, "not found"),
    ("run-infer-path-missing-function", run_args("--infer-path", "{wrapper}:synthesize"), 2, "synthesize"),
    ("run-vocoder-pickle-is-refused", BASE_RUN[:BASE_RUN.index("--vocoder")] + ["--vocoder-path", "{evil_vocoder}",
                                                                                "--mode", "fast", "--out", "{out}"] + REF,
     2, "refused, not executed"),
    ("run-vocoder-folder-without-config", BASE_RUN[:BASE_RUN.index("--vocoder")] + ["--vocoder-path", "{adir}",
                                                                                    "--out", "{out}"] + REF, 2, "config.yaml"),
    ("run-malformed-cases-toml", run_args("--cases", "{bad_toml}", ref=False), 2, "bad_cases.toml:3:"),
    ("run-cases-is-a-directory", run_args("--cases", "{adir}", ref=False), 2, "is a directory"),
    ("run-dataset-is-a-file", run_args("--dataset", "{ckpt}", ref=False), 2, "is a file, not a folder"),
    ("inspect-pickle-that-executes-code", ["inspect", "{evil_ckpt}"], 2, "never executes pickles"),
    ("run-pickle-that-executes-code", ["run", "{evil_ckpt}", "--vocoder", "griffin-lim", "--out", "{out}"] + REF, 2,
     "never executes pickles"),
    ("run-malformed-infer-cli-toml", run_args("--infer-cli-config", "{bad_infer_toml}"), 2, "infer.toml:2:"),
    ("inspect-binary-vocab", ["inspect", "{ckpt}", "--vocab", "{bin_vocab}"], 2, "binary file"),
    ("inspect-vocab-is-a-directory", ["inspect", "{ckpt}", "--vocab", "{adir}"], 2, "is a directory"),
    ("inspect-checkpoint-is-a-directory", ["inspect", "{adir}"], 2, "is a directory"),
    ("inspect-checkpoint-as-config", ["inspect", "{ckpt}", "--config", "{ckpt}"], 2, "binary file"),
    ("inspect-malformed-yaml", ["inspect", "{ckpt}", "--config", "{bad_yaml}"], 2, "bad.yaml:4:"),
    ("inspect-wav-as-checkpoint", ["inspect", "{wav}"], 2, "ref.wav"),
    ("fingerprint-ref-text-without-audio", ["fingerprint", "{ckpt}", "--ref-text", "{text}"], 2, "without --ref-audio"),
    ("fingerprint-binary-vocab", ["fingerprint", "{ckpt}", "--dataset", "{dataset}", "--vocab", "{bin_vocab}"], 2, "binary"),
    ("score-wav-is-a-directory", ["score", "{adir}", "--text", "{text}"], 2, "got a folder"),
    ("score-checkpoint-as-wav", ["score", "{ckpt}", "--text", "{text}"], 2, "not a readable audio file"),
    ("score-without-text", ["score", "{wav}"], 2, "--text"),
    # usage: one line and a pointer to --help, not argparse's usage block
    ("run-invalid-mode", ["run", "{ckpt}", "--mode", "slow"], 2, "see `parity-check run --help`"),
    ("inspect-unknown-flag", ["inspect", "{ckpt}", "--bogus"], 2, "see `parity-check inspect --help`"),
    ("inspect-without-checkpoint", ["inspect"], 2, "required"),
    ("unknown-command", ["bogus"], 2, "invalid choice"),
]
if torch.cuda.is_available():
    CASES.append(("device-cuda-index-only", run_args("--device", "cuda:99"), 2, "cuda:99"))
else:
    CASES += [("device-cuda-without-gpu", run_args("--device", "cuda"), 2, "no usable CUDA"),
              ("score-device-cuda-without-gpu", ["score", "{wav}", "--text", "{text}", "--device", "cuda"], 2, "CUDA")]


def _fill(argv: list[str], world: dict[str, str], out: Path) -> list[str]:
    values = dict(world, out=str(out))
    return [a.format(**values) for a in argv]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    return lines[0]


@pytest.mark.parametrize("argv, code, needle", [pytest.param(a, c, n, id=i) for i, a, c, n in CASES])
def test_hostile_input_gets_one_line_and_harms_nothing(argv, code, needle, world, sandbox, capsys):
    before = _digests(world)
    rc = cli.main(_fill(argv, world, sandbox["out"]))
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert rc == code, line
    assert needle in line
    assert "Traceback" not in captured.err + captured.out
    assert _digests(world) == before, "an input file changed"
    assert list(sandbox["systmp"].iterdir()) == [], "a temp file survived"
    assert list(sandbox["cwd"].iterdir()) == [], "something was written in the working directory"
    assert not sandbox["out"].exists(), "a refused command left its output folder"
    assert not Path(world["marker"]).exists(), "a pickle was executed"


def test_malformed_parity_toml_is_one_line_with_file_and_line(world, sandbox, capsys):
    (sandbox["cwd"] / "parity.toml").write_text("max_cer = 0.5\nmin_similarity = = 40\n", encoding="utf-8")
    rc = cli.main(_fill(run_args(), world, sandbox["out"]))
    line = _one_line(capsys.readouterr().err)
    assert rc == 2 and "parity.toml:2:" in line
    assert not sandbox["out"].exists()


def test_nan_weights_fail_inspect_with_counts(world, sandbox, capsys):
    rc = cli.main(["inspect", world["nan_ckpt"], "--json", str(sandbox["out"] / "inspect.json")])
    assert rc == 1
    data = json.loads((sandbox["out"] / "inspect.json").read_text())
    finite = next(r for r in data["results"] if r["probe"] == "ckpt.finite")
    assert finite["status"] == "fail"
    set_name = next(iter(finite["evidence"]))
    counts = finite["evidence"][set_name]
    assert counts["nan"] > 0 and counts["inf"] > 0 and counts["nan"] + counts["inf"] == counts["values"]
    assert f"{counts['nan']:,} NaN" in finite["summary"]
    assert list(sandbox["systmp"].iterdir()) == []


def test_finite_weights_pass_the_finite_probe(world, sandbox, capsys):
    assert cli.main(["inspect", world["ckpt"], "--config", world["config"], "--vocab", world["vocab"],
                     "--json", str(sandbox["out"] / "i.json")]) == 0
    data = json.loads((sandbox["out"] / "i.json").read_text())
    finite = next(r for r in data["results"] if r["probe"] == "ckpt.finite")
    assert finite["status"] == "pass" and finite["metrics"]["raw_nan"] == 0 and finite["metrics"]["ema_inf"] == 0


def test_a_vocab_with_duplicate_lines_fails_inspect_as_run_refuses_it(world, sandbox, capsys):
    rc = cli.main(["inspect", world["ckpt"], "--vocab", world["dup_vocab"], "--json", str(sandbox["out"] / "i.json")])
    assert rc == 1
    data = json.loads((sandbox["out"] / "i.json").read_text())
    vocab = next(r for r in data["results"] if r["probe"] == "vocab.files")
    assert vocab["status"] == "fail" and "duplicate token" in vocab["summary"]


@pytest.mark.parametrize("raised, code, needle", [
    (SystemExit(0), 1, "sys.exit(0)"),
    (SystemExit(None), 1, "sys.exit(None)"),
    (SystemExit(5), 1, "sys.exit(5)"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_command_ended_from_below_is_never_a_pass(raised, code, needle, world, sandbox, capsys, monkeypatch):
    """sys.exit(0) in a user's wrapper (at import or in the call) must not read as success to a CI gate."""
    from f5_parity.cli.commands import run as run_command

    def ends(args, console):
        tempfile.NamedTemporaryFile(delete=False)  # a library's leftover, in the command's private temp
        Path(args.out).mkdir(parents=True)  # the report folder, created before the run ended
        raise raised

    monkeypatch.setattr(run_command, "execute", ends)
    rc = cli.main(_fill(run_args(), world, sandbox["out"]))
    line = _one_line(capsys.readouterr().err)
    assert rc == code and needle in line
    assert list(sandbox["systmp"].iterdir()) == []
    assert not sandbox["out"].exists(), "the empty report folder of a failed run stayed"


def test_sys_exit_0_below_the_cli_is_a_failing_process(world, tmp_path):
    script = ("import sys\nfrom f5_parity.cli.commands import inspect as m\n"
              "m.execute = lambda args, console: sys.exit(0)\n"
              "from f5_parity.cli import main\nsys.exit(main(['inspect', sys.argv[1]]))\n")
    proc = subprocess.run([sys.executable, "-c", script, world["ckpt"]], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 1 and "sys.exit(0)" in proc.stderr and "Traceback" not in proc.stderr


def test_library_warnings_are_shown_only_with_debug(world, sandbox, capsys, monkeypatch):
    import warnings

    from f5_parity.cli.commands import inspect as inspect_command

    def warns(args, console):
        warnings.warn("torch.nn.utils.weight_norm is deprecated", FutureWarning)
        return 0

    monkeypatch.setattr(inspect_command, "execute", warns)
    assert cli.main(["inspect", world["ckpt"]]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["inspect", world["ckpt"], "--debug"]) == 0
    assert "weight_norm is deprecated" in capsys.readouterr().err


def test_private_temp_folder_is_removed_and_restored(world, sandbox, monkeypatch):
    from f5_parity.cli.commands import inspect as inspect_command

    seen = {}

    def uses_temp(args, console):
        seen["dir"] = tempfile.gettempdir()
        seen["env"] = os.environ["TMPDIR"]
        Path(tempfile.mkstemp(suffix=".wav")[1]).write_bytes(b"RIFF")  # what preprocess_ref_audio_text leaves
        return 0

    monkeypatch.setattr(inspect_command, "execute", uses_temp)
    assert cli.main(["inspect", world["ckpt"]]) == 0
    assert Path(seen["dir"]).parent == sandbox["systmp"] and seen["env"] == seen["dir"]
    assert not Path(seen["dir"]).exists() and list(sandbox["systmp"].iterdir()) == []
    assert tempfile.gettempdir() == str(sandbox["systmp"]) and os.environ["TMPDIR"] == str(sandbox["systmp"])


def test_a_real_run_writes_only_its_report_and_leaves_no_temp_file(world, sandbox, capsys):
    """f5's preprocess_ref_audio_text writes a tmpXXXX.wav per reference: it must not outlive the run."""
    from f5_parity.engine.guard import RUN_WRITES

    before = _digests(world)
    json_path, junit = sandbox["cwd"].parent / "copy.json", sandbox["cwd"].parent / "parity.xml"
    rc = cli.main(_fill(run_args("--no-infer-ema", "--json", str(json_path), "--junit", str(junit)), world,
                        sandbox["out"]))
    assert rc == 0, capsys.readouterr().err
    assert _digests(world) == before
    assert list(sandbox["systmp"].iterdir()) == []
    assert list(sandbox["cwd"].iterdir()) == []
    written = {p.relative_to(sandbox["out"]).as_posix() for p in sandbox["out"].rglob("*") if p.is_file()}
    allowed = tuple(w for w in RUN_WRITES)
    assert written and all(w in allowed or w.startswith(tuple(a for a in allowed if a.endswith("/"))) for w in written), \
        f"the run wrote files the collision check does not know: {sorted(written)}"
    mode = 0o666 & ~_umask()
    for p in [json_path, junit, sandbox["out"] / "run.json", sandbox["out"] / "report.md"]:
        assert p.stat().st_mode & 0o777 == mode, p
    assert json.loads(json_path.read_text())["verdict"] == "pass"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_interrupted_atomic_write_leaves_neither_file_nor_temp(tmp_path, monkeypatch):
    from f5_parity.files import write_json_atomic

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(tmp_path / "run.json", {"verdict": "pass"})
    assert list(tmp_path.iterdir()) == []


def test_odd_references_are_reported_with_numbers(tmp_path):
    import soundfile as sf

    from f5_parity.cases.case import Case, reference_notes

    rng = np.random.default_rng(0)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, rng.normal(0, 0.1, (44100 * 2, 2)).astype(np.float32), 44100)
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.clip(rng.normal(0, 1.0, 48000), -1, 1).astype(np.float32), 24000)
    notes = reference_notes([Case("s", stereo, TEXT, TEXT), Case("c", clipped, TEXT, TEXT)])
    assert len(notes) == 2
    assert "2 channels" in notes[0] and "44100 Hz" in notes[0]
    assert "clipped" in notes[1] and "% of the samples at full scale" in notes[1]


def test_yaml_and_toml_errors_name_file_line_and_column(tmp_path):
    import tomllib

    import yaml

    from f5_parity.errors import syntax_error_line

    with pytest.raises(yaml.YAMLError) as y:
        yaml.safe_load("a: [1,\nb: 2\n")
    line = syntax_error_line("c.yaml", y.value)
    assert re.match(r"c\.yaml:3:1: expected ',' or ']'", line) and "\n" not in line
    with pytest.raises(tomllib.TOMLDecodeError) as t:
        tomllib.loads("x = 1\ny = = 2\n")
    assert syntax_error_line("p.toml", t.value).startswith("p.toml:2:")


@pytest.mark.slow
def test_score_reports_a_silent_wav_instead_of_transcribing_it(world, sandbox, capsys, asr_cache):
    out = sandbox["out"] / "score.json"
    rc = cli.main(["score", world["zeros_wav"], "--text", TEXT, "--json", str(out)])
    assert rc == 0
    assert "silent" in capsys.readouterr().out
    utterance = json.loads(out.read_text())["utterances"][0]
    assert utterance["hypothesis"] == "" and utterance["wer"] == 1.0
    assert utterance["audio"]["findings"][0].startswith("silent") and utterance["audio"]["rms"] == 0.0


def test_a_gate_only_failure_names_the_gate_not_culprits_none():
    from rich.console import Console

    from f5_parity.render.terminal import render_run_summary
    from runjson import report_of

    checks = [{"name": "parity", "value": "pass", "threshold": "pass", "op": "==", "passed": True},
              {"name": "max_cer", "path": "infer", "value": 0.83, "threshold": 0.6, "op": "<=", "passed": False}]
    report = report_of({"verdict": "fail", "parity_verdict": "pass", "gate": {"checks": checks}})
    console = Console(record=True, width=200)
    render_run_summary(report, console)
    first = console.export_text().splitlines()[0]
    assert first.startswith("FAILED the gate") and "max_cer 0.83 > 0.6 (infer)" in first and "culprits: none" not in first
