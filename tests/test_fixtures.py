"""The fixture factory builds real F5 checkpoints that f5-tts's own loaders accept as users' files would."""

from __future__ import annotations

import torch

from f5_parity.testing import fixtures as F
from f5_parity.files import sha256_file


def test_trainer_checkpoint_has_every_key_the_trainer_writes(fixture_set):
    ckpt = torch.load(fixture_set.checkpoints["trainer"], weights_only=True, map_location="cpu")
    assert set(ckpt) == {"model_state_dict", "optimizer_state_dict", "ema_model_state_dict", "scheduler_state_dict", "update"}
    ema = ckpt["ema_model_state_dict"]
    assert int(ema["step"]) == 1_200_000 + 25_400 and bool(ema["initted"])
    assert all(k.startswith("ema_model.") for k in ema if k not in ("step", "initted"))
    assert ckpt["optimizer_state_dict"]["state"], "AdamW state must be populated like a real run"


def test_ema_lags_raw_by_the_ema_pytorch_share(fixture_set):
    run = fixture_set.run
    assert 0.20 < run.share < 0.25  # 1 - 0.9999 ** 2540
    w_pre = F.build_cfm(run.vocab_chars, run.arch).state_dict()
    raw = run.raw.state_dict()
    k = "transformer.text_embed.text_embed.weight"
    ema = run.ema_state["ema_model." + k]
    frac = ((ema - w_pre[k]).norm() / (raw[k] - w_pre[k]).norm()).item()
    assert abs(frac - run.share) < 1e-4


def test_f5_load_checkpoint_accepts_each_official_format(fixture_set):
    from f5_tts.infer.utils_infer import load_checkpoint

    run = fixture_set.run
    for fmt, use_ema in [("trainer", True), ("trainer", False), ("pretrained-pt", True), ("ema-safetensors", True)]:
        model = F.build_cfm(run.vocab_chars, run.arch, seed=123)
        load_checkpoint(model, str(fixture_set.checkpoints[fmt]), "cpu", dtype=torch.float32, use_ema=use_ema)
        got = model.state_dict()["transformer.proj_out.weight"]
        want = (run.raw.state_dict() if not use_ema else F._ema_weights(run.ema_state))["transformer.proj_out.weight"]
        assert torch.equal(got, want), (fmt, use_ema)


def test_fp16_and_bf16_copies_hold_those_dtypes(fixture_set):
    for name, dtype in [("trainer-fp16", torch.float16), ("trainer-bf16", torch.bfloat16)]:
        ckpt = torch.load(fixture_set.checkpoints[name], weights_only=True, map_location="cpu")
        assert ckpt["model_state_dict"]["transformer.proj_out.weight"].dtype == dtype


def test_factory_is_deterministic(tmp_path):
    a = F.save_checkpoint(F.simulate_finetune(seed=3), tmp_path / "a.safetensors", "ema-safetensors")
    b = F.save_checkpoint(F.simulate_finetune(seed=3), tmp_path / "b.safetensors", "ema-safetensors")
    assert sha256_file(a) == sha256_file(b)


def test_random_vocos_loads_through_f5_load_vocoder(vocos_dir):
    from f5_tts.infer.utils_infer import load_vocoder

    vocoder = load_vocoder("vocos", is_local=True, local_path=str(vocos_dir), device="cpu")
    wav = vocoder.decode(torch.zeros(1, 100, 20))
    assert wav.shape[-1] == 19 * 256 or wav.shape[-1] == 20 * 256 - 256  # ISTFT center=True trims one hop


def test_vocab_roundtrip_matches_f5_reader(tmp_path):
    from f5_tts.model.utils import get_tokenizer

    path = F.write_vocab(tmp_path / "v.txt", F.pt_vocab_chars())
    char_map, size = get_tokenizer(str(path), "custom")
    assert size == len(F.pt_vocab_chars()) and char_map[" "] == 0 and "ã" in char_map
