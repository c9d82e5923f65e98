"""Issue 21 item 4: the user's own script from the shell, in the order users write it:
`parity-check run CKPT [options] --infer-script my_infer.py -- <the script's own arguments>`,
through the real entry point (cli.main), with a script of the user's and with f5-tts's own infer_cli.py."""

from __future__ import annotations

import importlib.util
import json

import pytest

from f5_parity import cli

REF_TEXT = "Eu não sei se você vai gostar da ação."


def _trainer_side(fs) -> list[str]:
    return ["--train-config", str(fs.config), "--train-vocab", str(fs.vocab), "--vocoder", "griffin-lim"]


@pytest.mark.slow
def test_a_users_script_gets_the_arguments_after_double_dash(fixture_set, pt_cases, tmp_path, capsys):
    fs, case = fixture_set, pt_cases[0]
    script = tmp_path / "my_infer.py"
    script.write_text(f'''
import argparse
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_parity.paths.griffinlim import GriffinLimVocoder

p = argparse.ArgumentParser()
p.add_argument("--text", required=True)
p.add_argument("--ref", required=True)
p.add_argument("--ref-text", required=True)
p.add_argument("--no-ema", action="store_true")
args = p.parse_args()  # a missing or unknown argument would end the script here: exit 2, never a report
arch = yaml.safe_load(open({str(fs.config)!r}))["model"]["arch"]
model = load_model(DiT, arch, {str(fs.checkpoints["trainer"])!r}, vocab_file={str(fs.vocab)!r},
                   use_ema=not args.no_ema)
vocoder = GriffinLimVocoder(dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                 target_sample_rate=24000, mel_spec_type="vocos"))
ref, text = preprocess_ref_audio_text(args.ref, args.ref_text, show_info=lambda *a: None)
infer_process(ref, text, args.text, model, vocoder, show_info=lambda *a: None, progress=None)
''', encoding="utf-8")
    out = tmp_path / "out"
    # options on both sides of --infer-script, then `--`, then the script's own flags (some look like ours)
    argv = ["run", str(fs.checkpoints["trainer"]), *_trainer_side(fs), "--infer-script", str(script),
            "--out", str(out), "--", "--text", "Olá, tudo bem?", "--ref", str(case.wav), "--ref-text", REF_TEXT,
            "--no-ema"]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    data = json.loads((out / "run.json").read_text())
    assert data["observed_infer"]["runner"] == "script" and data["observed_infer"]["failure"] is None, err
    assert [c["ref_audio"] for c in data["cases"]] == [str(case.wav)]  # the script's own --ref
    assert "weights" not in data["culprits"]  # its --no-ema reached it: raw weights, like the trainer
    assert rc in (0, 1) and "error" not in err


@pytest.mark.slow
def test_f5_tts_own_infer_cli_py_as_the_users_script(fixture_set, pt_cases, tmp_path, monkeypatch, capsys):
    """infer_cli.py run as a script with its own flags; it loads its vocoder from ../checkpoints/ (a local
    random Vocos here: no hub), and its default EMA weights are named against the trainer's raw ones."""
    from f5_parity.testing.fixtures import random_vocos_dir

    fs, case = fixture_set, pt_cases[0]
    infer_cli_py = importlib.util.find_spec("f5_tts.infer.infer_cli").origin  # finding it runs nothing
    work = tmp_path / "work"
    work.mkdir()
    random_vocos_dir(tmp_path / "checkpoints" / "vocos-mel-24khz")  # infer_cli's --load_vocoder_from_local path
    monkeypatch.chdir(work)
    out = tmp_path / "out"
    argv = ["run", str(fs.checkpoints["trainer"]), *_trainer_side(fs), "--out", str(out),
            "--infer-script", infer_cli_py, "--",
            "-mc", str(fs.config), "-p", str(fs.checkpoints["trainer"]), "-v", str(fs.vocab),
            "-r", str(case.wav), "-s", REF_TEXT, "-t", "Olá, tudo bem?", "--load_vocoder_from_local",
            "-o", str(tmp_path / "generated")]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 1, err
    data = json.loads((out / "run.json").read_text())
    assert data["observed_infer"]["runner"] == "script" and data["observed_infer"]["failure"] is None, err
    assert [c["ref_audio"] for c in data["cases"]] == [str(case.wav)]
    assert "weights" in data["culprits"]  # infer_cli loads EMA (load_model's default); the trainer sampled raw
    assert "error" not in err and "Traceback" not in err
