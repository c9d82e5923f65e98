"""The installed Trainer's own sample code as the trainer path: equal to the mirror on a known release, and
what parity-check uses (and reports) when the loaded f5-tts is an edited copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from f5_parity.f5 import environment as E

REPO = Path(__file__).resolve().parents[1]
FX = REPO / "fixtures" / "ptbr-tiny"


@pytest.fixture(scope="module")
def world(tmp_path_factory, fixture_set, vocos_dir):
    """The session's fixture set and Vocos folder (the same seed-0 fine-tune and vocoder this module once built
    for itself), one builtin case."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.paths.spec import trainer_spec
    from f5_parity.testing import fixtures as F

    root = tmp_path_factory.mktemp("trainer-run")
    fs = fixture_set
    case = builtin_cases(root / "cases", 1)[0]
    cfg = F.model_config(fs.run.arch)["model"]
    spec = trainer_spec(fs.checkpoints["trainer"], train_config=cfg, train_vocab=fs.vocab, vocoder_path=vocos_dir)
    return dict(spec=spec, case=case, fs=fs)


def _mirror(spec, case, seed):
    from f5_parity.paths.stages import ModelPool, dataset_text
    from f5_parity.paths.trainer import dataset_item, trainer_sample

    pool = ModelPool("cpu")
    batch_mel, lengths, text_inputs = dataset_item(str(case.ref_audio), dataset_text(spec, case), spec.value("mel"))
    model, vocoder = pool.model(spec), pool.vocoder(spec)  # built before seeding: building draws random numbers
    torch.manual_seed(seed)
    return trainer_sample(model, batch_mel, lengths, text_inputs, vocoder, "vocos")


@pytest.mark.slow
def test_installed_trainer_sample_equals_the_mirror_on_a_known_release(world):
    """The proof that lets the mirror stand in for the Trainer on known code (and the other way round)."""
    from f5_parity.paths.stages import dataset_text
    from f5_parity.paths.trainer_run import installed_trainer_sample

    assert E.detect().trusted, "this proof is about a known release"
    spec, case = world["spec"], world["case"]
    checkpoint = Path(spec.locate("weights", "checkpoint"))
    before = checkpoint.read_bytes()
    run = installed_trainer_sample(spec, str(case.ref_audio), dataset_text(spec, case), seed=11)
    assert checkpoint.read_bytes() == before, "the user's checkpoint is never written"
    assert run.loaded_by == "Trainer.load_checkpoint", "a resumable checkpoint goes through the Trainer's own loader"
    mirror = _mirror(spec, case, seed=11)

    assert (run.duration, run.ref_len) == (mirror.duration, mirror.ref_audio_len)
    assert run.text == mirror.infer_text
    torch.testing.assert_close(run.gen_mel, mirror.gen_mel, rtol=1e-5, atol=1e-5)
    n = min(run.gen_wav.shape[-1], mirror.gen_audio.shape[-1])
    assert torch.allclose(run.gen_wav[..., :n], mirror.gen_audio[..., :n], atol=1e-3)  # 16-bit wav file
    # the weights it sampled with are the checkpoint's raw (online) weights: the update at lr 0 changed nothing
    raw = world["fs"].run.raw.state_dict()
    for key, value in run.model.state_dict().items():
        if key in raw and not key.startswith("mel_spec"):
            torch.testing.assert_close(value, raw[key], rtol=0, atol=0)


def _edited_copy(dest: Path) -> Path:
    pkg = dest / "f5_tts"
    shutil.copytree(E.loaded_package_dir(), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    trainer = pkg / "model" / "trainer.py"
    trainer.write_text(trainer.read_text().replace("steps=nfe_step,", "steps=16,"))
    return pkg


@pytest.mark.slow
def test_parity_check_with_an_edited_trainer_reports_it_and_judges_its_code(tmp_path):
    """Acceptance (issue 15): an edited copy first on PYTHONPATH, its sample block at nfe 16."""
    _edited_copy(tmp_path / "edited")
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(tmp_path / "edited")}  # f5_parity itself comes from this interpreter's install
    args = ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
            "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt",
            "--infer-config", f"{FX}/F5TTS_ptbr_tiny.yaml", "--no-infer-ema", "--vocoder", "griffin-lim",
            "--mode", "fast", "--seed", "0", "--out", str(out)]
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the edit breaks parity: trainer nfe 16, infer nfe 32

    report = json.loads((out / "run.json").read_text())
    environment = report["environment"]
    assert environment["trainer_side"] == "installed-trainer"
    assert environment["f5_tts"]["differs"] == ["Trainer.train", "Trainer.train sample block"]
    assert environment["f5_tts"]["shadowed"] is True and environment["torch"] and environment["device"] == "cpu"
    (run,) = environment["installed_trainer"].values()
    assert run["steps"] == 16
    # the trainer path is what the edited Trainer did, and the sampler is what breaks parity
    assert report["factors"]["sampler"]["train"]["nfe"] == 16 and report["factors"]["sampler"]["infer"]["nfe"] == 32
    assert report["culprits"] == ["sampler"]
    # said in the report's first lines, naming the changed function
    head = "\n".join((out / "report.md").read_text().splitlines()[:4])
    assert "UNKNOWN CODE" in head and "Trainer.train sample block" in head and "installed-trainer" in head
    assert "UNKNOWN CODE" in " ".join(" ".join(proc.stdout.splitlines()[:4]).split())  # the terminal's first line
