"""parity-check as users meet it: the demo end to end, exit-code classes, reproducible reports."""

from __future__ import annotations

from importlib.metadata import version

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from f5_parity import cli
from f5_parity.render.markdown import strip_timestamp_lines


@pytest.mark.slow
def test_demo_full_mode_names_each_injected_fault_and_scores_every_path(tmp_path, asr_cache):
    out = tmp_path / "demo"
    rc = cli.main(["demo", "--out", str(out), "--cases", "1", "--seeds", "1", "--junit", str(tmp_path / "junit.xml")])
    assert rc == 0, "the demo's self-check: every injected fault named"
    data = json.loads((out / "run.json").read_text())
    assert data["verdict"] == "fail" and data["parity_verdict"] == "fail"
    assert set(data["culprits"]) == {"arch", "weights", "vocab"}
    for fid in ("arch", "weights", "vocab"):
        assert data["factors"][fid]["culprit"] and data["factors"][fid]["fix"]
    paths = {r["path"] for r in data["scores"]["rows"]}
    assert {"reference", "griffin-lim", "trainer", "trainer-heldout", "infer", "infer-copy"} <= paths
    assert data["scores"]["asr"]["backend"] == "faster-whisper"
    report = (out / "report.md").read_text()
    assert any(line.startswith("**FAILED**") for line in report.splitlines()[:8])  # after the title and environment
    assert report.index("## Culprits") < report.index("## Stages")  # verdict and culprits first
    for fid in ("arch", "weights", "vocab"):
        assert f"**{fid}**" in report
    assert "**fix:**" in report and "griffin-lim" in report.lower()
    for rel in data["artifacts"]["pngs"].values():
        assert (out / rel).stat().st_size > 1000 and f"]({rel})" in report
    for rel in data["artifacts"]["wavs"].values():
        assert (out / rel).exists()
    repro = data["reproducibility"]
    assert repro["checkpoint_sha256"] == data["checkpoint"]["sha256"] and repro["versions"]["f5-tts"] == version("f5-tts")
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    names = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase")}
    assert ("probe", "run.isolation") in names and ("score.ptbr_00", "infer") in names
    failed = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase") if c.find("failure") is not None}
    assert ("probe", "run.isolation") in failed


def _run_args(fixture_set, out, *extra):
    fs = fixture_set
    return ["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--infer-config", str(fs.config),
            "--train-vocab", str(fs.vocab), "--infer-vocab", str(fs.vocab), "--vocoder", "griffin-lim",
            "--out", str(out), *extra]


def test_exit_0_when_the_infer_side_is_configured_like_the_trainer(fixture_set, pt_cases, tmp_path):
    case = pt_cases[0]
    args = _run_args(fixture_set, tmp_path / "r", "--no-infer-ema", "--ref-audio", str(case.wav), "--ref-text", case.text)
    assert cli.main(args) == 0
    assert json.loads((tmp_path / "r" / "run.json").read_text())["verdict"] == "pass"


def test_exit_1_when_parity_breaks_and_the_same_inputs_give_the_same_report(fixture_set, pt_cases, tmp_path):
    case = pt_cases[0]
    args = _run_args(fixture_set, tmp_path / "r", "--ref-audio", str(case.wav), "--ref-text", case.text)
    assert cli.main(args) == 1  # EMA where the trainer sampled raw weights
    first = (tmp_path / "r" / "report.md").read_text()
    assert cli.main(args) == 1
    second = (tmp_path / "r" / "report.md").read_text()
    assert strip_timestamp_lines(first) == strip_timestamp_lines(second)
    assert json.loads((tmp_path / "r" / "run.json").read_text())["culprits"] == ["weights"]


@pytest.mark.parametrize("argv, needle", [
    (["run", "/nonexistent/model.pt"], "no such file"),
    (["inspect", "/nonexistent/model.pt"], "/nonexistent/model.pt"),
    (["run", "CKPT", "--infer-config", "F5TTS_v9_Huge"], "unknown config"),
    (["run", "CKPT", "--mode", "slow"], "invalid choice"),
    (["sweep", "CKPT", "--quality-draws", "1"], "--quality-draws 1: an interval needs two draws or more"),
])
def test_exit_2_bad_input_is_one_line_without_traceback(fixture_set, argv, needle):
    argv = [str(fixture_set.checkpoints["trainer"]) if a == "CKPT" else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and needle in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.strip().startswith(("error", "parity-check: error"))]) == 1


def test_exit_3_internal_error_says_so_without_traceback(monkeypatch, capsys, tmp_path):
    from f5_parity.cli.commands import inspect as inspect_command

    def broken(args, console):
        raise RuntimeError("a bug in f5-parity")

    monkeypatch.setattr(inspect_command, "execute", broken)  # the CLI's own error mapping is under test
    (tmp_path / "whatever.pt").write_bytes(b"x")  # the checks before the command see a file
    assert cli.main(["inspect", str(tmp_path / "whatever.pt")]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "a bug in f5-parity" in err and "Traceback" not in err


@pytest.mark.slow
def test_without_train_config_the_fingerprint_settles_the_flags(tmp_path, pt_cases):
    """The trained v0 fixture, no --train-config: shapes give the arch, the loss gives the flags."""
    from f5_parity.demo.fixture import fixture_dir

    fx = fixture_dir()
    case = pt_cases[0]
    out = tmp_path / "r"
    rc = cli.main(["run", str(fx / "model_ptbr_tiny.pt"), "--train-vocab", str(fx / "vocab.txt"),
                   "--infer-config", str(fx / "F5TTS_ptbr_tiny.yaml"), "--infer-vocab", str(fx / "vocab.txt"),
                   "--no-infer-ema", "--vocoder", "griffin-lim", "--ref-audio", str(case.wav), "--ref-text", case.text,
                   "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    assert data["fingerprint"][0]["winner"].startswith("v0 flags"), data["fingerprint"]
    assert any("fingerprint settled the flags as v0" in n for n in data["notes"])
    trainer_arch = data["specs"]["trainer"]["values"]["arch"]
    assert trainer_arch["pe_attn_head"] == 1 and trainer_arch["text_mask_padding"] is False
    assert rc == 0 and data["verdict"] == "pass"  # infer configured like the (fingerprinted) trainer


def test_infer_side_from_the_users_own_infer_cli_command_line(fixture_set, pt_cases, tmp_path):
    """--infer-cli is parsed with infer_cli's defaulting: '--cfg_strength 0' silently becomes 2.0."""
    fs, case = fixture_set, pt_cases[0]
    out = tmp_path / "r"
    command = (f"f5-tts_infer-cli -m F5TTS_v1_Base -mc {fs.config} -p {fs.checkpoints['trainer']} -v {fs.vocab} "
               "--nfe_step 16 --cfg_strength 0")
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--train-vocab",
                   str(fs.vocab), "--vocoder", "griffin-lim", "--infer-cli", command, "--ref-audio", str(case.wav),
                   "--ref-text", case.text, "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    sampler = data["specs"]["infer"]["values"]["sampler"]
    assert sampler["nfe"] == 16 and sampler["cfg"] == 2.0
    assert any("cfg_strength" in n and "infer_cli" in n for n in data["notes"])
    assert rc == 1 and "sampler" in data["culprits"] and "weights" in data["culprits"]  # nfe 16; infer_cli loads the EMA


@pytest.mark.slow
def test_a_users_own_wrapper_is_run_and_what_it_really_did_is_observed(fixture_set, pt_cases, tmp_path, asr_cache,
                                                                      monkeypatch):
    """--infer-path file.py:function: the wrapper's CFM.sample calls show it loaded the EMA at nfe 16."""
    fs, case = fixture_set, pt_cases[0]
    monkeypatch.setenv("WRAPPER_CONFIG", str(fs.config))
    wrapper = Path(__file__).parent / "wrappers" / "suspicious_wrapper.py"
    out = tmp_path / "r"
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--train-vocab",
                   str(fs.vocab), "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema",
                   "--vocoder", "griffin-lim", "--mode", "full", "--cross-paths", "--infer-path", f"{wrapper}:synthesize",
                   "--ref-audio", str(case.wav), "--ref-text", case.text, "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    assert rc == 1 and set(data["culprits"]) >= {"weights", "sampler"}  # judged on what it did, not the flags
    observed = data["observed_infer"]
    assert observed["runner"] == "custom" and len(observed["runs"]) == 2  # the observation run is reused
    run = observed["runs"][0]
    assert run["runner"] == "custom" and run["weights"] == "ema" and run["steps"] == 16
    assert run["dtype"] == "float32"
    assert {f["factor"] for f in observed["findings"]} >= {"weights"}  # --no-infer-ema predicted raw
    # no sampler flag was given: nfe 16 is what the wrapper did, observed, not a "the flags predict" finding
    assert observed["factors"]["sampler"]["agrees"] is None and observed["factors"]["sampler"]["observed"]["nfe"] == 16
    assert {r["path"] for r in data["scores"]["rows"]} >= {"infer", "infer-copy"}


@pytest.mark.parametrize("problem", ["vocab", "short", "silent", "rate", "arrow"])
def test_exit_2_for_each_bad_input_of_run(problem, fixture_set, pt_cases, tmp_path, capsys):
    import numpy as np

    from f5_parity.scoring.audio import write_wav

    fs, case = fixture_set, pt_cases[0]
    ref, vocab = str(case.wav), str(fs.vocab)
    extra = []
    if problem == "vocab":
        vocab = str(tmp_path / "small_vocab.txt")
        Path(vocab).write_text(" \na\nb\n", encoding="utf-8")
        needle = "size mismatch"
    elif problem == "short":
        ref = str(write_wav(tmp_path / "short.wav", np.full(2400, 0.1, dtype=np.float32), 24000))
        needle = "too short"
    elif problem == "silent":
        ref = str(write_wav(tmp_path / "silent.wav", np.zeros(48000, dtype=np.float32), 24000))
        needle = "silent"
    elif problem == "rate":
        ref = str(write_wav(tmp_path / "8k.wav", np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 8000))
        needle = "8000 Hz"
    else:
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "raw.arrow").write_bytes(b"not arrow")
        extra, needle = ["--dataset", str(tmp_path / "ds")], "raw.arrow"
    cases = extra or ["--ref-audio", ref, "--ref-text", case.text]
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--train-vocab", vocab,
                   "--vocoder", "griffin-lim", "--out", str(tmp_path / "r"), *cases])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err


def test_cases_from_f5s_prepared_dataset_folder(tmp_path):
    """raw.arrow + duration.json + vocab.txt, as prepare_csv_wavs writes them."""
    from f5_parity.testing import training
    from f5_parity.cases.case import dataset_cases
    from f5_parity.cases.speech import PT_BR_SENTENCES

    csv = training.generate_dataset(tmp_path / "data", sentences=PT_BR_SENTENCES[:2])
    prepared = training.prepare_dataset(csv, tmp_path / "prepared", quiet=True)
    cases = dataset_cases(prepared, count=2)
    assert [c.ref_text for c in cases] == list(PT_BR_SENTENCES[:2])
    assert cases[0].gen_text == PT_BR_SENTENCES[1]  # held out: the next utterance's text
