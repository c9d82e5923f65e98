"""Checkpoint forensics on every format of the fixture factory and on crafted broken files.

Nothing is mocked: the files are written by f5's own Trainer / torch.save / safetensors, and the load
simulation is checked against real calls of f5's load_checkpoint and Trainer.load_checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import shutil

import pytest
import torch

from f5_parity import checkpoint as C
from f5_parity.testing import fixtures as F
from f5_parity.checkpoint.ema import ema_share
from f5_parity.files import sha256_file
from f5_parity.errors import InputError, UnsafeCheckpointError

N_TENSORS = 54  # the tiny CFM's state dict


@pytest.fixture(scope="module")
def files(fixture_set):
    return fixture_set.checkpoints


def _cfg(fixture_set):
    return C.load_config(str(fixture_set.config))


# --- anatomy of every format ----------------------------------------------------------------------


EXPECTED = {
    # format: (weight sets, source of each set, update, ema step, prefixes per set, dtype)
    "trainer": ({"raw": "model_state_dict", "ema": "ema_model_state_dict"}, 25_400, 1_225_400,
                {"raw": {}, "ema": {"ema_model.": N_TENSORS}}, "float32"),
    "trainer-last": ({"raw": "model_state_dict", "ema": "ema_model_state_dict"}, 25_400, 1_225_400,
                     {"raw": {}, "ema": {"ema_model.": N_TENSORS}}, "float32"),
    "pretrained-pt": ({"ema": "ema_model_state_dict"}, None, 1_225_400, {"ema": {"ema_model.": N_TENSORS}}, "float32"),
    "ema-safetensors": ({"ema": "<top level>"}, None, 1_225_400, {"ema": {"ema_model.": N_TENSORS}}, "float32"),
    "noprefix-safetensors": ({"ema": "<top level>"}, None, None, {"ema": {}}, "float32"),
    "model-dict": ({"raw": "model"}, None, None, {"raw": {}}, "float32"),
    "bare": ({"raw": "<top level>"}, None, None, {"raw": {}}, "float32"),
    "module-prefix": ({"raw": "<top level>"}, None, None, {"raw": {"module.": N_TENSORS}}, "float32"),
    "orig-mod-prefix": ({"raw": "<top level>"}, None, None, {"raw": {"_orig_mod.": N_TENSORS}}, "float32"),
    "trainer-fp16": ({"raw": "model_state_dict", "ema": "ema_model_state_dict"}, 25_400, 1_225_400,
                     {"raw": {}, "ema": {"ema_model.": N_TENSORS}}, "float16"),
    "trainer-bf16": ({"raw": "model_state_dict", "ema": "ema_model_state_dict"}, 25_400, 1_225_400,
                     {"raw": {}, "ema": {"ema_model.": N_TENSORS}}, "bfloat16"),
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_anatomy_of_every_factory_format(files, fmt):
    sets_want, update, step, prefixes, dtype = EXPECTED[fmt]
    ck = C.open_checkpoint(files[fmt])
    facts = C.anatomy(ck)
    sets = ck.weight_sets()
    assert {k: v.source for k, v in sets.items()} == sets_want
    assert facts["update"] == update
    assert facts["ema_step"] == step
    assert facts["ema_initted"] is (True if step else None)
    assert ck.format == ("safetensors" if fmt.endswith("safetensors") else "pt")
    assert ck.mmapped is True
    for name, ws in sets.items():
        assert ws.tensor_count == N_TENSORS
        assert ws.prefixes == prefixes[name]
        assert ws.dtypes == {dtype: N_TENSORS}
        assert ws.has_transformer_prefix
        assert ws.legacy_keys == []
    assert facts["file"]["sha256"] == sha256_file(files[fmt])
    assert (facts["optimizer"] is not None) == fmt.startswith("trainer")


def test_trainer_file_counts_and_optimizer_metadata(fixture_set, files):
    ck = C.open_checkpoint(files["trainer"])
    run = fixture_set.run
    params = sum(p.numel() for p in run.raw.state_dict().values())
    raw = ck.weight_sets()["raw"]
    assert raw.param_count == params
    assert raw.nbytes == params * 4
    opt = ck.optimizer_summary()
    n_params = len(list(run.raw.parameters()))
    assert opt["param_groups"] == 1 and opt["params_per_group"] == [n_params]
    assert opt["state_tensors"] == 3 * n_params  # step, exp_avg, exp_avg_sq per parameter
    trainable = sum(p.numel() for p in run.raw.parameters())
    assert opt["state_bytes"] >= 2 * trainable * 4  # exp_avg + exp_avg_sq, counted from metadata
    assert C.layout(ck).startswith("trainer checkpoint")
    assert ck.top_level_keys == ["model_state_dict", "optimizer_state_dict", "ema_model_state_dict",
                                 "scheduler_state_dict", "update"]


@pytest.mark.parametrize("fmt,which", [
    ("trainer", "raw"), ("trainer", "ema"), ("pretrained-pt", "ema"), ("ema-safetensors", "ema"),
    ("noprefix-safetensors", "ema"), ("model-dict", "raw"), ("bare", "raw"), ("module-prefix", "raw"),
    ("orig-mod-prefix", "raw"), ("trainer-bf16", "ema"),
])
def test_state_dict_loads_strictly_into_f5_cfm(fixture_set, files, fmt, which):
    run = fixture_set.run
    ck = C.open_checkpoint(files[fmt])
    sd = ck.state_dict(which, dtype=torch.float32)
    assert all(k.startswith("transformer.") for k in sd)
    model = F.build_cfm(run.vocab_chars, run.arch, seed=99)
    model.load_state_dict(sd)  # strict
    want = run.raw.state_dict() if which == "raw" else F._ema_weights(run.ema_state)
    key = "transformer.text_embed.text_embed.weight"
    tol = 1e-2 if "bf16" in fmt else 0
    assert torch.allclose(model.state_dict()[key], want[key].float(), atol=tol, rtol=tol)


def test_state_dict_names_the_sets_it_has(files):
    ck = C.open_checkpoint(files["pretrained-pt"])
    with pytest.raises(InputError, match="has no 'raw' weights.*holds: ema") as e:
        ck.state_dict("raw")
    assert isinstance(e.value, KeyError)  # callers that look weight sets up by name can catch KeyError


# --- broken and hostile files ---------------------------------------------------------------------


def test_zero_bytes(tmp_path):
    p = tmp_path / "model.pt"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"is empty \(0 bytes\)"):
        C.open_checkpoint(p)


def test_truncated_pt(tmp_path, files):
    data = files["trainer"].read_bytes()
    p = tmp_path / "model_25400.pt"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt torch archive") as e:
        C.open_checkpoint(p)
    assert "copy the checkpoint again" in e.value.line()
    assert not isinstance(e.value, UnsafeCheckpointError)


def test_truncated_safetensors(tmp_path, files):
    data = files["ema-safetensors"].read_bytes()
    p = tmp_path / "model.safetensors"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt safetensors file"):
        C.open_checkpoint(p)


@pytest.mark.parametrize("name", ["model.pt", "model.safetensors", "notes.txt"])
def test_text_file_is_not_a_checkpoint(tmp_path, name):
    p = tmp_path / name
    p.write_text("hello, this is not a checkpoint\n")
    with pytest.raises(InputError, match="not a (checkpoint|safetensors file).*it is text, starting with 'hello"):
        C.open_checkpoint(p)


class _CreatesFile:
    """A pickle payload: unpickling it would call os.system and create a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_hostile_pickle_in_torch_zip_is_refused_and_never_run(tmp_path):
    target = tmp_path / "PWNED"
    p = tmp_path / "model_1.pt"
    torch.save({"model_state_dict": {"w": torch.zeros(2)}, "x": _CreatesFile(target)}, p)
    with pytest.raises(UnsafeCheckpointError) as e:
        C.open_checkpoint(p)
    assert not target.exists()
    assert "needs the global posix.system" in e.value.problem
    assert "f5-parity never executes pickles" in e.value.problem
    assert "torch.save(state_dict)" in e.value.fix and "safetensors" in e.value.fix


def test_hostile_plain_pickle_is_refused_and_never_run(tmp_path):
    target = tmp_path / "PWNED"
    for proto in (2, 4):
        p = tmp_path / f"model_p{proto}.pt"
        p.write_bytes(pickle.dumps({"model": _CreatesFile(target)}, protocol=proto))
        with pytest.raises(UnsafeCheckpointError, match="refused — this file's pickle"):
            C.open_checkpoint(p)
        assert not target.exists()


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        C.open_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(InputError, match="is a folder"):
        C.open_checkpoint(tmp_path)


def test_legacy_non_zip_format_loads_without_mmap_and_says_so(tmp_path, fixture_set):
    p = tmp_path / "legacy.pt"
    torch.save(fixture_set.run.raw.state_dict(), p, _use_new_zipfile_serialization=False)
    ck = C.open_checkpoint(p)
    assert ck.mmapped is False
    assert any("cannot be memory-mapped" in n for n in ck.notes)
    assert ck.weight_sets()["raw"].tensor_count == N_TENSORS


def test_no_weights_inside(tmp_path):
    p = tmp_path / "model.pt"
    torch.save({"update": 3, "config": {"a": 1}}, p)
    with pytest.raises(InputError, match="no model weights found"):
        C.open_checkpoint(p)


def test_content_and_extension_disagree(tmp_path, files):
    p = tmp_path / "model_1200000.pt"
    shutil.copy(files["ema-safetensors"], p)
    ck = C.open_checkpoint(p)
    assert ck.format == "safetensors" and ck.extension_format == "pt"
    assert any("picks its reader by the extension" in n for n in ck.notes)
    sim = C.simulate_loads(ck, None, len(F.pt_vocab_chars()))
    assert not sim.by_path()["load_checkpoint(use_ema=True)"].ok


def test_legacy_mel_keys_are_reported_and_dropped(tmp_path, fixture_set):
    sd = dict(fixture_set.run.raw.state_dict())
    sd["mel_spec.mel_stft.mel_scale.fb"] = torch.zeros(513, 100)
    p = tmp_path / "old.pt"
    torch.save({"model_state_dict": sd}, p)
    ck = C.open_checkpoint(p)
    assert C.anatomy(ck)["legacy_keys"] == ["mel_spec.mel_stft.mel_scale.fb"]
    assert "mel_spec.mel_stft.mel_scale.fb" not in ck.state_dict("raw")


# --- architecture from the weights ----------------------------------------------------------------


def test_tiny_architecture_matches_the_factory_settings(files, fixture_set):
    arch = C.architecture(C.open_checkpoint(files["trainer"]))
    assert arch.backbone == "DiT"
    want = {k: v for k, v in F.TINY_ARCH.items()}
    assert {k: arch.settings[k] for k in want} == want
    assert arch.settings["qk_norm"] is None and arch.settings["long_skip_connection"] is False
    assert arch.mel_dim == 100
    assert arch.text_num_embeds == len(fixture_set.run.vocab_chars)
    assert set(arch.unrevealed) >= {"pe_attn_head", "text_mask_padding", "mel_spec_type", "vocab order"}
    m = C.match_config(arch, C.load_config(str(fixture_set.config)))
    assert m.matches and m.unrevealed_values["pe_attn_head"] is None


def _meta_arch(cfg, vocab=2545):
    model = C.build_meta_cfm(cfg, vocab)
    return C.infer_architecture({k: C.TensorMeta.of(v) for k, v in model.state_dict().items()})


@pytest.mark.parametrize("name", ["F5TTS_v1_Base", "F5TTS_Base", "F5TTS_Small", "F5TTS_v1_Small",
                                  "E2TTS_Base", "E2TTS_Small"])
def test_architecture_of_each_shipped_config_built_on_meta(name):
    shipped = C.shipped_configs()
    cfg = shipped[name]
    arch = _meta_arch(cfg)
    assert arch.backbone == cfg.backbone
    assert arch.text_num_embeds == 2545 and arch.embedding_rows == 2546
    for k in ("dim", "depth", "heads", "ff_mult"):
        assert arch.settings[k] == cfg.arch[k], k
    matching = sorted(m.config for m in C.match_shipped(arch) if m.matches)
    assert name in matching
    # v0 and v1 share keys and shapes: the weights cannot tell them apart.
    twins = {"F5TTS_v1_Base": "F5TTS_Base", "F5TTS_Base": "F5TTS_v1_Base",
             "F5TTS_Small": "F5TTS_v1_Small", "F5TTS_v1_Small": "F5TTS_Small"}
    if name in twins:
        assert twins[name] in matching
        assert len(matching) == 2
    else:
        assert matching == [name]


def test_base_size_text_dim_conv_layers_and_unett_skip():
    shipped = C.shipped_configs()
    v1 = _meta_arch(shipped["F5TTS_v1_Base"])
    assert v1.settings["text_dim"] == 512 and v1.settings["conv_layers"] == 4
    e2 = _meta_arch(shipped["E2TTS_Base"])
    assert e2.settings["text_dim"] == 100 and e2.settings["conv_layers"] == 0  # text_dim defaults to mel_dim
    assert e2.settings["skip_connect_type"] == "concat"


def test_qk_norm_long_skip_dim_head_and_mmdit_on_meta():
    cfg = C.ModelConfig("x", "test", "DiT", dict(dim=256, depth=3, heads=2, dim_head=128, ff_mult=3, text_dim=64,
                                                   conv_layers=2, qk_norm="rms_norm", long_skip_connection=True), {})
    arch = _meta_arch(cfg, vocab=40)
    assert arch.settings == dict(dim=256, depth=3, heads=2, dim_head=128, ff_mult=3, text_dim=64, conv_layers=2,
                                 qk_norm="rms_norm", long_skip_connection=True)
    assert C.match_config(arch, cfg).matches
    mm = C.ModelConfig("m", "test", "MMDiT", dict(dim=128, depth=2, heads=2, ff_mult=2), {})
    arch = _meta_arch(mm, vocab=40)
    assert arch.backbone == "MMDiT" and arch.settings["dim"] == 128 and arch.settings["depth"] == 2
    assert arch.text_num_embeds == 40
    assert C.match_config(arch, mm).matches


def test_mismatched_config_lists_the_differences(files):
    arch = C.architecture(C.open_checkpoint(files["trainer"]))
    m = C.match_config(arch, C.load_config("F5TTS_v1_Base"))
    diffs = {d["setting"]: (d["weights"], d["config"]) for d in m.differences}
    assert diffs["dim"] == (128, 1024) and diffs["depth"] == (2, 22) and diffs["conv_layers"] == (1, 4)


def test_config_errors(tmp_path):
    with pytest.raises(InputError) as e:
        C.load_config("F5TTS_v2_Huge")
    assert "unknown config 'F5TTS_v2_Huge'" in e.value.problem
    assert "F5TTS_v1_Base" in e.value.fix and "E2TTS_Base" in e.value.fix
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  name: x\n")
    with pytest.raises(InputError, match="not an f5 model config"):
        C.load_config(str(bad))
    with pytest.raises(InputError, match="no such config file"):
        C.load_config(str(tmp_path / "missing.yaml"))


def test_shipped_configs_are_read_from_the_package():
    shipped = C.shipped_configs()
    assert {"F5TTS_v1_Base", "F5TTS_Base", "E2TTS_Base"} <= set(shipped)
    assert shipped["F5TTS_Base"].arch["pe_attn_head"] == 1
    assert shipped["F5TTS_v1_Base"].arch["text_mask_padding"] is True


# --- load simulation, proven against f5's real loaders ---------------------------------------------


def _real_load_checkpoint(fixture_set, path, use_ema, vocab_size=None):
    from f5_tts.infer.utils_infer import load_checkpoint

    run = fixture_set.run
    chars = run.vocab_chars if vocab_size is None else [f"t{i}" for i in range(vocab_size)]
    model = F.build_cfm(chars, run.arch, seed=5)
    try:
        load_checkpoint(model, str(path), "cpu", dtype=torch.float32, use_ema=use_ema)
        return True, None, None
    except Exception as exc:
        return False, type(exc).__name__, str(exc)


@pytest.mark.slow
def test_simulated_load_checkpoint_equals_the_real_call(fixture_set, files):
    cfg = _cfg(fixture_set)
    n = len(fixture_set.run.vocab_chars)
    cases = [(fmt, use_ema, n) for fmt in ("trainer", "pretrained-pt", "ema-safetensors", "noprefix-safetensors",
                                           "model-dict", "bare", "module-prefix")
             for use_ema in (True, False)]
    cases.append(("trainer", True, 2545))  # the packaged vocab: a size mismatch
    seen_ok = seen_fail = 0
    for fmt, use_ema, vocab in cases:
        sim = C.simulate_loads(C.open_checkpoint(files[fmt]), cfg, vocab)
        o = sim.by_path()[f"load_checkpoint(use_ema={use_ema})"]
        real = _real_load_checkpoint(fixture_set, files[fmt], use_ema, None if vocab == n else vocab)
        assert (o.ok, o.exception, o.message) == real, (fmt, use_ema, vocab)
        seen_ok += o.ok
        seen_fail += not o.ok
    assert seen_ok >= 5 and seen_fail >= 5
    mismatch = C.simulate_loads(C.open_checkpoint(files["trainer"]), cfg, 2545).by_path()["load_checkpoint(use_ema=True)"]
    assert ("size mismatch for transformer.text_embed.text_embed.weight: copying a param with shape "
            "torch.Size([100, 64]) from checkpoint, the shape in current model is torch.Size([2546, 64])") in mismatch.message
    assert mismatch.mismatched == [{"key": "transformer.text_embed.text_embed.weight", "checkpoint": [100, 64],
                                    "model": [2546, 64]}]


def _real_trainer_load(fixture_set, src, tmp_path, name):
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    from f5_tts.model import Trainer

    folder = tmp_path / name.replace(".", "_")
    folder.mkdir()
    shutil.copy(src, folder / name)
    run = fixture_set.run
    model = F.build_cfm(run.vocab_chars, run.arch, seed=7)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(model, epochs=1, learning_rate=1e-5, num_warmup_updates=10, checkpoint_path=str(folder),
                          logger=None, log_samples=False)
    warm = LinearLR(trainer.optimizer, start_factor=1e-8, end_factor=1.0, total_iters=10)
    decay = LinearLR(trainer.optimizer, start_factor=1.0, end_factor=1e-8, total_iters=100)
    trainer.scheduler = SequentialLR(trainer.optimizer, schedulers=[warm, decay], milestones=[10])  # as train() does
    try:
        update = trainer.load_checkpoint()
        return True, None, None, update, int(trainer.ema_model.step)
    except Exception as exc:
        return False, type(exc).__name__, str(exc), None, None


@pytest.mark.slow
def test_simulated_trainer_load_equals_the_real_call(fixture_set, files, tmp_path):
    cfg = _cfg(fixture_set)
    n = len(fixture_set.run.vocab_chars)
    cases = [
        ("trainer", "Trainer resume", "model_last.pt"),
        ("trainer", "Trainer fine-tune start", "pretrained_model_25400.pt"),
        ("pretrained-pt", "Trainer fine-tune start", "pretrained_model_1200000.pt"),
        ("ema-safetensors", "Trainer fine-tune start", "pretrained_model_1200000.safetensors"),
        ("noprefix-safetensors", "Trainer fine-tune start", "pretrained_model_export.safetensors"),
        ("bare", "Trainer fine-tune start", "pretrained_bare_state_dict.pt"),
    ]
    for fmt, path, name in cases:
        o = C.simulate_loads(C.open_checkpoint(files[fmt]), cfg, n).by_path()[path]
        ok, exc, msg, update, step = _real_trainer_load(fixture_set, files[fmt], tmp_path, name)
        assert (o.ok, o.exception, o.message) == (ok, exc, msg), (fmt, path)
        if ok:
            assert o.result["update"] == update, fmt
            assert o.result["ema_step"] == step, fmt
    start = C.simulate_loads(C.open_checkpoint(files["trainer"]), cfg, n).by_path()["Trainer fine-tune start"]
    assert start.result["branch"] == "resume" and start.result["update"] == 25_400
    assert any("resumes at update 25400" in note for note in start.notes)


def test_strict_false_reports_tensors_left_random(fixture_set, files):
    cfg = _cfg(fixture_set)
    n = len(fixture_set.run.vocab_chars)
    o = C.simulate_loads(C.open_checkpoint(files["module-prefix"]), cfg, n).by_path()["strict=False (raw)"]
    assert o.ok and o.result == {"left_random": N_TENSORS, "model_tensors": N_TENSORS, "ignored": N_TENSORS}
    # proven against torch on the real model
    model = F.build_cfm(fixture_set.run.vocab_chars, fixture_set.run.arch)
    real = model.load_state_dict(torch.load(files["module-prefix"], weights_only=True), strict=False)
    assert len(real.missing_keys) == N_TENSORS and len(real.unexpected_keys) == N_TENSORS
    ok = C.simulate_loads(C.open_checkpoint(files["bare"]), cfg, n).by_path()["strict=False (raw)"]
    assert ok.ok and ok.result["left_random"] == 0


def test_default_config_is_the_matching_shipped_one_and_the_api_default(fixture_set, files):
    ck = C.open_checkpoint(files["trainer"])
    sim = C.simulate_loads(ck, None, len(fixture_set.run.vocab_chars))
    assert sim.config == "<from the weights>"  # the tiny model matches no shipped config
    by = sim.by_path()
    assert by["load_checkpoint(use_ema=True)"].ok and by["load_checkpoint(use_ema=False)"].ok
    api = by["F5TTS()"]
    assert api.config == "F5TTS_v1_Base" and not api.ok and api.exception == "RuntimeError"


# --- EMA health -----------------------------------------------------------------------------------


def test_ema_health_on_the_trainer_file(fixture_set, files):
    run = fixture_set.run
    h = C.ema_health(C.open_checkpoint(files["trainer"]), run.vocab_chars)
    assert (h.ema_step, h.update, h.inherited_step) == (1_225_400, 25_400, 1_200_000)
    assert h.share == pytest.approx(ema_share(25_400, inherited_step=1_200_000))
    assert 0.22 < h.share < 0.23
    assert h.mostly_pretrained
    assert "the EMA is still about 78% the pretrained model: infer with use_ema=False" in h.verdict
    # The distance equals the one computed directly from the simulated run.
    raw = run.raw.state_dict()
    ema = F._ema_weights(run.ema_state)
    keys = [k for k in raw if not k.endswith("inv_freq")]
    d2 = sum(float((ema[k].double() - raw[k].double()).pow(2).sum()) for k in keys)
    r2 = sum(float(raw[k].double().pow(2).sum()) for k in keys)
    assert h.overall.rel_l2 == pytest.approx(math.sqrt(d2 / r2), rel=1e-9)
    groups = {g.group for g in h.groups}
    assert groups == {"time_embed", "text_embed", "input_embed", "transformer_blocks", "output"}
    assert h.text_rows["rows"] == len(run.vocab_chars) + 1
    far = h.text_rows["farthest_rows"][0]
    assert far["token"] == run.vocab_chars[far["vocab_id"]]
    assert h.updates_for_90 == C.updates_for_share(0.9)
    assert ema_share(h.updates_for_90, inherited_step=1_200_000) >= 0.9


def test_ema_health_releases_pages_and_data_stays_correct(files):
    ck = C.open_checkpoint(files["trainer-last"])
    h = C.ema_health(ck)
    assert h.examined_bytes > 0
    assert h.released_bytes > 0.5 * h.examined_bytes
    fresh = torch.load(files["trainer-last"], weights_only=True)["model_state_dict"]
    for k, v in ck.state_dict("raw").items():
        assert torch.equal(v, fresh[k]), k  # re-read from the file after release


def test_ema_health_without_one_of_the_sets(files):
    only_ema = C.ema_health(C.open_checkpoint(files["pretrained-pt"]))
    assert only_ema.overall is None and not only_ema.mostly_pretrained
    assert only_ema.verdict.startswith("EMA weights only (step 1225400)")
    assert only_ema.share_table[25_000] == pytest.approx(ema_share(25_000, inherited_step=1_225_400))
    only_raw = C.ema_health(C.open_checkpoint(files["bare"]))
    assert only_raw.verdict.startswith("no EMA weights in this file")


def test_ema_health_of_a_run_trained_from_scratch(tmp_path, fixture_set):
    run = fixture_set.run
    ema = dict(run.ema_state)
    ema["step"] = torch.tensor(5000)
    p = tmp_path / "model_5000.pt"
    torch.save({"model_state_dict": run.raw.state_dict(), "ema_model_state_dict": ema, "update": 5000}, p)
    h = C.ema_health(C.open_checkpoint(p))
    assert h.share is None and not h.mostly_pretrained
    assert "the EMA started with this run" in h.verdict


def test_user_files_are_never_written(files):
    folder = files["trainer"].parent
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    sha = sha256_file(files["trainer"])
    ck = C.open_checkpoint(files["trainer"])
    C.ema_health(ck)
    C.simulate_loads(ck, None, 99)
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()} == before
    assert sha256_file(files["trainer"]) == sha


def test_a_files_digest_is_read_once_and_read_again_when_the_file_changes(tmp_path):
    """sha256_file remembers a digest only while the file's size and mtime hold: the Trainer rewrites
    model_last.pt in place with the same size, and a sweep must see the new content."""
    import hashlib
    import os

    from f5_parity.files import sha256_file

    p = tmp_path / "model_last.pt"
    p.write_bytes(b"a" * 4096)
    assert sha256_file(p) == hashlib.sha256(b"a" * 4096).hexdigest()
    st = os.stat(p)
    p.write_bytes(b"b" * 4096)  # same size, in place
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert sha256_file(p) == hashlib.sha256(b"b" * 4096).hexdigest()
    assert sha256_file(p) == sha256_file(str(p))  # one file, however it is named
