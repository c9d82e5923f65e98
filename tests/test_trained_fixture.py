"""The ptbr-tiny fixture: a small F5 model really trained by f5-tts's Trainer (fixtures/ptbr-tiny/).

Two claims are checked: the committed recipe reproduces the committed loss log (the first 20
updates, re-trained here from the espeak-ng dataset), and the committed checkpoint is what the
recipe says (raw + EMA in fp16, no optimizer state, <= 10 MB, loads with f5's own loader both ways).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from f5_parity.testing import training
from f5_parity.f5.vocab import read_vocab_chars
from f5_parity.files import sha256_file
from f5_parity.cases.speech import espeak_available

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ptbr-tiny"
REPRODUCED_UPDATES = 20  # a recipe change moves the loss from update 1 on; 20 of the log's 50 keep the check in
# the suite at less than half the cost (the full 300 updates are `fixtures/ptbr-tiny/make_fixture.py`)

# Relative tolerance on each reproduced loss. Measured here: the same recipe with 1 vs 2
# torch threads differs by at most 1.3e-7 relative (fp32 summation order; it does not grow during the
# 300-update warm-up). A recipe change (seed, data, lr, arch, flags) moves losses by 1e-2 or more.
# 1e-4 leaves room for other CPUs' kernels while still catching any of those.
LOSS_RTOL = 1e-4


@pytest.fixture(scope="module")
def recipe() -> dict:
    path = FIXTURE / "recipe.json"
    assert path.exists(), "fixtures/ptbr-tiny/recipe.json is missing: run fixtures/ptbr-tiny/make_fixture.py"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config(recipe) -> training.TrainConfig:
    return training.TrainConfig(**recipe["config"])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, recipe):
    """The recipe's dataset, generated and prepared with F5's own prepare_csv_wavs."""
    if not espeak_available():  # a fact of the machine, not of the product: said, not failed
        pytest.skip("espeak-ng is missing, so the recipe's dataset cannot be spoken: `make system-deps` installs it")
    root = tmp_path_factory.mktemp("ptbr-tiny-data")
    csv_path = training.generate_dataset(root / "dataset")
    return training.prepare_dataset(csv_path, root / "prepared", quiet=True)


# --- the recipe reproduces the log ----------------------------------------------------------------


@pytest.mark.slow
def test_recipe_reproduces_the_first_logged_losses(prepared, recipe, config, tmp_path):
    csv_path = prepared.parent / "dataset" / "metadata.csv"
    if training.espeak_version() != recipe["espeak_ng"]:  # another espeak-ng speaks other audio: nothing to compare
        pytest.skip(f"espeak-ng {training.espeak_version()!r} here, {recipe['espeak_ng']!r} made the fixture's "
                    "dataset: the loss log can only be reproduced from the same speech")
    assert training.dataset_sha256(csv_path) == recipe["dataset_sha256"], (
        f"espeak-ng produced other audio than the recipe's ({training.espeak_version()!r} here, "
        f"{recipe['espeak_ng']!r} for the fixture): the loss log cannot be reproduced from it"
    )
    committed = training.read_loss_log(FIXTURE / "train_log.csv")[:REPRODUCED_UPDATES]
    assert len(committed) == REPRODUCED_UPDATES

    result = training.train(prepared, tmp_path / "run", config, threads=1, quiet=True,
                            stop_after=REPRODUCED_UPDATES)
    rerun = training.read_loss_log(result.log)

    assert [r["update"] for r in rerun] == [r["update"] for r in committed] == list(range(1, REPRODUCED_UPDATES + 1))
    for a, b in zip(rerun, committed):
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-9), f"update {a['update']}: lr schedule differs"
    rel = [abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(rerun, committed)]
    worst = max(range(len(rel)), key=rel.__getitem__)
    assert rel[worst] <= LOSS_RTOL, (
        f"update {worst + 1}: loss {rerun[worst]['loss']!r} vs committed {committed[worst]['loss']!r} "
        f"(relative difference {rel[worst]:.2e} > {LOSS_RTOL:.0e})"
    )


@pytest.mark.slow
def test_trained_model_beats_its_initialization_on_training_clips(prepared, config):
    """The weights learned something: F5's own CFM loss on training clips, same noise for both."""
    from f5_tts.model.dataset import collate_fn

    dataset = training.load_prepared(prepared)
    batch = collate_fn([dataset[i] for i in range(4)])
    mel = batch["mel"].permute(0, 2, 1)

    def cfm_loss(model) -> float:
        model.eval()
        random.seed(1234)  # CFM draws its condition dropout from Python's random
        torch.manual_seed(1234)  # same flow times, noise and infill spans for both models
        with torch.no_grad():
            losses = [model(mel, text=batch["text"], lens=batch["mel_lengths"])[0].item() for _ in range(3)]
        return sum(losses) / len(losses)

    torch.manual_seed(config.seed)
    untrained = training.build_model(FIXTURE / "vocab.txt", config.arch)
    trained = training.build_model(FIXTURE / "vocab.txt", config.arch)
    from f5_tts.infer.utils_infer import load_checkpoint

    load_checkpoint(trained, str(FIXTURE / "model_ptbr_tiny.pt"), "cpu", dtype=torch.float32, use_ema=False)
    before, after = cfm_loss(untrained), cfm_loss(trained)
    assert after < 0.25 * before, f"trained loss {after:.3f} is not well below the untrained {before:.3f}"


# --- the committed checkpoint is what the recipe says ---------------------------------------------


def test_fixture_files_match_recipe(recipe):
    ckpt = FIXTURE / recipe["checkpoint"]
    assert ckpt.stat().st_size <= training.MAX_FIXTURE_BYTES
    assert ckpt.stat().st_size == recipe["checkpoint_bytes"]
    assert sha256_file(ckpt) == recipe["sha256"]
    assert sha256_file(FIXTURE / "vocab.txt") == recipe["vocab_sha256"]
    assert read_vocab_chars(FIXTURE / "vocab.txt")[0] == " "  # F5 maps unknown characters to id 0


def test_fixture_checkpoint_is_raw_plus_ema_in_fp16_without_optimizer(recipe):
    ckpt = torch.load(str(FIXTURE / recipe["checkpoint"]), map_location="cpu", weights_only=True, mmap=True)
    assert set(ckpt) == {"model_state_dict", "ema_model_state_dict", "update"}
    assert ckpt["update"] == recipe["update_exported"]
    raw, ema = ckpt["model_state_dict"], ckpt["ema_model_state_dict"]
    floats = [v for v in list(raw.values()) + list(ema.values()) if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    # ema_pytorch's own buffers survive the export: the EMA stepped once per Trainer update.
    assert bool(ema["initted"]) and int(ema["step"]) == ckpt["update"]
    assert {k.replace("ema_model.", "", 1) for k in ema if k.startswith("ema_model.")} == set(raw)
    # Raw and EMA are two different weight sets (the EMA lags), as in any real Trainer checkpoint.
    key = "transformer.proj_out.weight"
    assert not torch.equal(raw[key], ema[f"ema_model.{key}"])
    assert sum(v.numel() for k, v in raw.items() if k.startswith("transformer.")) == recipe["params"]


@pytest.mark.parametrize("use_ema", [True, False], ids=["ema", "raw"])
def test_fixture_loads_with_f5_load_checkpoint(recipe, use_ema):
    from f5_tts.infer.utils_infer import load_checkpoint

    arch = yaml.safe_load((FIXTURE / "F5TTS_ptbr_tiny.yaml").read_text(encoding="utf-8"))["model"]["arch"]
    assert arch["pe_attn_head"] == 1 and arch["text_mask_padding"] is False  # the v0 flags
    model = training.build_model(FIXTURE / "vocab.txt", arch)
    load_checkpoint(model, str(FIXTURE / recipe["checkpoint"]), "cpu", dtype=torch.float32, use_ema=use_ema)
    ckpt = torch.load(str(FIXTURE / recipe["checkpoint"]), map_location="cpu", weights_only=True)
    key = "transformer.proj_out.weight"
    want = ckpt["ema_model_state_dict"][f"ema_model.{key}"] if use_ema else ckpt["model_state_dict"][key]
    assert torch.equal(model.state_dict()[key], want.float())


def test_fixture_log_shows_training(recipe):
    log = training.read_loss_log(FIXTURE / "train_log.csv")
    assert [r["update"] for r in log] == list(range(1, recipe["update_exported"] + 1))
    first = sum(r["loss"] for r in log[:50]) / 50
    last = sum(r["loss"] for r in log[-100:]) / len(log[-100:])
    assert last < 0.2 * first, f"loss went from {first:.2f} to only {last:.2f}"
    for name in recipe["samples"]:  # what the Trainer wrote at the exported update
        assert (FIXTURE / "samples" / name).stat().st_size > 1000
