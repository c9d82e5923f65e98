"""Paths doing what the engine cannot rebuild (docs/real-cases.md, section of the same name).

A user's path may do something the engine has no name for: load weights that are neither of the checkpoint's
sets (F5-TTS #1292: a strict=False load that matched nothing), rewrite the text before f5 sees it (#49, #951),
decode with a vocoder the tool cannot read, or compute something no setting explains. Each is observed while
the real path runs, on the trained tiny fixture (raw and EMA sets differ), through the real entry points (the
`parity-check` command line in-process, and f5_parity.check). What is asserted each time comes from two
independent computations: the trainer side's values from the checkpoint file and the case, the infer side's
from what the user's path did.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import f5_parity
from f5_parity import cli

_LOADER = '''
import os
import numpy as np
import torch
import yaml
from f5_tts.infer.utils_infer import infer_process, preprocess_ref_audio_text
from f5_tts.model import CFM, DiT
from f5_tts.model.utils import get_tokenizer
from f5_parity.paths.griffinlim import GriffinLimVocoder

MEL = dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100, target_sample_rate=24000,
           mel_spec_type="vocos")


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    # the user's own loader: the training arch, the EMA set as the file stores it, strict=False
    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    chars, size = get_tokenizer(vocab, "custom")
    model = CFM(transformer=DiT(**arch, text_num_embeds=size, mel_dim=100), mel_spec_kwargs=MEL,
                odeint_kwargs=dict(method="euler"), vocab_char_map=chars)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["ema_model_state_dict"]
    {edit}
    model.load_state_dict(state, strict=False)
    model = model.to(device).eval()
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, GriffinLimVocoder(MEL),
                               show_info=lambda *a: None, progress=None, device=device)
    return np.asarray(wav), sr
'''

# the prefix left on: nothing loads (#1292); renamed text-embedding keys: that module alone keeps its random init
PREFIX_LEFT_ON = "pass"
RENAMED_TEXT_EMBED = ('state = {k.replace("ema_model.", "").replace("text_embed.", "text_embedding."): v '
                      'for k, v in state.items() if k not in ("initted", "step")}')

_REWRITER = '''
import os, unicodedata
import numpy as np
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_parity.paths.griffinlim import GriffinLimVocoder


def plain(text):
    """"accents break it": lowercase, accents stripped (F5-TTS #49, #951)"""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c))


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device, use_ema=False)
    {edit}
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, GriffinLimVocoder(dict(
        n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100, target_sample_rate=24000,
        mel_spec_type="vocos")), show_info=lambda *a: None, progress=None, device=device)
    return np.asarray(wav), sr
'''

_UNKNOWN_EDIT = '''
import os
import numpy as np
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_parity.paths.griffinlim import GriffinLimVocoder


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device, use_ema=False)
    # something no setting names: the backbone's output scaled by a forward hook (weights, arch, inputs unchanged)
    model.transformer.register_forward_hook(lambda module, args, output: output * 1.05)
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, GriffinLimVocoder(dict(
        n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100, target_sample_rate=24000,
        mel_spec_type="vocos")), show_info=lambda *a: None, progress=None, device=device)
    return np.asarray(wav), sr
'''


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return f"{path}:generate"


def _trainer_side(fs) -> list[str]:
    return ["--train-config", str(fs.config), "--train-vocab", str(fs.vocab), "--infer-vocab", str(fs.vocab)]


def _cli(fs, case, out: Path, *extra: str) -> tuple[int, dict]:
    argv = ["run", str(fs.checkpoints["trainer"]), *_trainer_side(fs), "--infer-config", str(fs.config),
            "--no-infer-ema", "--vocoder", "griffin-lim", "--ref-audio", str(case.wav), "--ref-text", case.text,
            "--gen-text", case.gen_text, "--mode", "fast", "--out", str(out), *extra]
    rc = cli.main(argv)
    return rc, json.loads((out / "run.json").read_text())


def _api(fs, case, out: Path, target: str):
    return f5_parity.check(fs.checkpoints["trainer"], train_config=fs.config, train_vocab=fs.vocab,
                           infer_config=fs.config, infer_vocab=fs.vocab, infer_ema=False, infer_path=target,
                           vocoder="griffin-lim", ref_audio=case.wav, ref_text=case.text, gen_text=case.gen_text,
                           mode="fast", out=out)


@pytest.fixture
def env(fixture_set, monkeypatch):
    monkeypatch.setenv("WRAPPER_CONFIG", str(fixture_set.config))
    return fixture_set


# --- weights that are neither set -------------------------------------------------------------------------


def test_a_strict_false_load_with_the_ema_prefix_left_on_names_weights_and_the_load_mistake(env, pt_cases,
                                                                                          tmp_path):
    """Today's code said "nothing compared: the checkpoint has no neither weights", FAILED, culprits none."""
    case = pt_cases[0]
    rc, data = _cli(env, case, tmp_path / "out", "--infer-path",
                    _write(tmp_path, "prefix_left_on", _LOADER.format(edit=PREFIX_LEFT_ON)))
    assert rc == 1
    assert data["culprits"] == ["weights"], data["notes"]
    weights = data["factors"]["weights"]
    assert weights["train"] == {"set": "raw"}  # the Trainer's set, from the file: never the path's tensors
    assert weights["infer"]["set"] == "neither"
    assert "'ema_model.'" in weights["infer"]["load"] and "'ema_model.'" in weights["fix"]
    finding = next(f for f in data["observed_infer"]["findings"] if f["factor"] == "weights" and f.get("rule"))
    # every module of the model holds neither set (a tensor that never left its init value may equal the file)
    modules = {m.split(" (")[0] for m in finding["observed"]["modules"]}
    assert {"transformer.text_embed", "transformer.transformer_blocks", "transformer.proj_out"} <= modules
    assert finding["observed"]["tensors_neither"] >= finding["observed"]["of"] - 2
    assert not any("nothing compared" in n for n in data["notes"])
    # the stages ran on the path's own model: the engine's rebuild computes the velocity the path computed
    assert data["observed_infer"]["mirror_check"]["passed"]
    assert data["first_divergence"] == {case.name: "velocity"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "strip 'ema_model.'" in report


def test_a_partial_strict_false_load_names_only_the_module_that_holds_neither(env, pt_cases, tmp_path):
    case = pt_cases[0]
    report = _api(env, case, tmp_path / "out",
                  _write(tmp_path, "renamed_keys", _LOADER.format(edit=RENAMED_TEXT_EMBED)))
    assert report.culprits == ["weights"]
    finding = next(f for f in report.observed_infer.findings if f.factor == "weights" and f.rule)
    assert [m.split(" (")[0] for m in finding.observed["modules"]] == ["transformer.text_embed"]
    assert "keys renamed" in finding.observed["load"]
    assert "transformer.text_embed" in report.factors["weights"].infer["neither"]


# --- a text the path rewrote --------------------------------------------------------------------------------


@pytest.mark.parametrize("edit, rewritten", [
    ("ref_text, gen_text = plain(ref_text), plain(gen_text)", {"ref_text", "gen_text"}),
    ("ref_text = plain(ref_text)", {"ref_text"}),
    ("gen_text = plain(gen_text)", {"gen_text"}),
])
def test_a_text_the_path_rewrote_is_the_culprit_with_both_texts(edit, rewritten, env, pt_cases, tmp_path):
    """Today's code passed the lowercasing, accent-stripping wrapper: the text it fed CFM.sample was taken as the
    case's on both sides. Here the case's text stays the truth, on the trainer side too."""
    case = pt_cases[0]
    assert case.text != "".join(case.text.lower()) and any(ord(c) > 127 for c in case.text + case.gen_text)
    rc, data = _cli(env, case, tmp_path / "out", "--infer-path",
                    _write(tmp_path, "rewriter", _REWRITER.format(edit=edit)))
    assert rc == 1
    assert data["culprits"] == ["text"]
    text = data["factors"]["text"]
    assert "rewritten" not in text["train"]
    assert set(text["infer"]["rewritten"]) == rewritten
    finding = next(f for f in data["observed_infer"]["findings"] if f["factor"] == "text" and f.get("rule"))
    truth = {"ref_text": case.text, "gen_text": case.gen_text}
    for key in rewritten:
        assert finding["predicted"][key] == truth[key]
        assert finding["observed"][key] != truth[key] and finding["observed"][key] == finding["observed"][key].lower()
    assert finding["observed"]["tokens_changed"]  # the tokens that differ, as f5's frontend makes them
    assert "first difference" in finding["message"]
    if rewritten == {"gen_text"}:  # the copy task frames the reference twice: only the held-out tokens show it
        assert text["effect"]["held_out_tokens"]["differing"] > 0
    else:
        assert data["first_divergence"][case.name] == "tokens"
    assert data["observed_infer"]["mirror_check"]["passed"]  # the engine frames the path's texts as f5 did
    report = (tmp_path / "out" / "report.md").read_text()
    assert case.gen_text in report if "gen_text" in rewritten else case.text in report


# --- something no setting explains ---------------------------------------------------------------------------


def test_a_path_the_engine_cannot_rebuild_is_not_decided_never_passed(env, pt_cases, tmp_path):
    """A forward hook scales the backbone's output: every input and setting is the trainer's, so every stage of
    the engine's rebuild passes; its mirror check (the rebuild's velocity against the path's own) fails, and
    that reaches parity_verdict. Today's code said parity pass (only the gate's probe failed)."""
    case = pt_cases[0]
    rc, data = _cli(env, case, tmp_path / "out", "--infer-path", _write(tmp_path, "hooked", _UNKNOWN_EDIT))
    assert rc == 1
    assert data["observed_infer"]["mirror_check"]["passed"] is False
    assert data["parity_verdict"] == "undecided" and data["verdict"] == "fail"
    assert data["culprits"] == []  # no setting is blamed for what the tool cannot reproduce
    assert any("mirror check" in why for why in data["undecided"])
    assert "**NOT DECIDED**" in (tmp_path / "out" / "report.md").read_text()



_HOOK = ("    # something no setting names: the backbone's output scaled by a forward hook (weights, arch, inputs unchanged)\n"
         "    model.transformer.register_forward_hook(lambda module, args, output: output * 1.05)\n")
_STRETCHED = _UNKNOWN_EDIT.replace(_HOOK, (
    "    sample = model.sample  # frames of its own: every duration infer_process computes, stretched by 20 %\n"
    "    model.sample = lambda *args, **kwargs: sample(*args, **{**kwargs, 'duration': int(kwargs['duration'] * 1.2)})\n"))


def test_a_duration_no_rule_gives_is_a_finding_and_not_decided(env, pt_cases, tmp_path):
    """The path hands CFM.sample frames that the byte-ratio rule does not give for its speed and fix_duration:
    the rule finding says both numbers, and since the engine keeps its rule, the run is not decided."""
    assert _HOOK in _UNKNOWN_EDIT and _HOOK not in _STRETCHED
    case = pt_cases[0]
    rc, data = _cli(env, case, tmp_path / "out", "--infer-path", _write(tmp_path, "stretched", _STRETCHED))
    assert rc == 1 and data["parity_verdict"] == "undecided"
    finding = next(f for f in data["observed_infer"]["findings"] if f["factor"] == "duration")
    assert finding["reproduced"] is False
    assert finding["observed"]["frames"] == int(finding["predicted"]["frames"] * 1.2)
    assert any(why.startswith("duration: the engine's rule") for why in data["undecided"])

# --- a vocoder the tool does not have -------------------------------------------------------------------------


@pytest.mark.slow
def test_infer_cli_py_with_a_local_vocos_gives_the_same_culprits_with_or_without_vocoder_path(
        fixture_set, pt_cases, tmp_path, monkeypatch):
    """f5-tts's own infer_cli.py as the user's script, --load_vocoder_from_local (../checkpoints/vocos-mel-24khz),
    training YAML vocos with vocoder.is_local False. Today's code named weights AND vocoder without
    --vocoder-path (the trainer's "vocoder" was the tool's griffin-lim fallback) and weights alone with it."""
    from f5_parity.testing.fixtures import random_vocos_dir

    fs, case = fixture_set, pt_cases[0]
    infer_cli_py = importlib.util.find_spec("f5_tts.infer.infer_cli").origin
    vocos = random_vocos_dir(tmp_path / "checkpoints" / "vocos-mel-24khz")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    script = ["--infer-script", infer_cli_py, "--", "-mc", str(fs.config), "-p", str(fs.checkpoints["trainer"]),
              "-v", str(fs.vocab), "-r", str(case.wav), "-s", case.text, "-t", case.gen_text,
              "--load_vocoder_from_local", "-o", str(tmp_path / "generated")]
    runs = {}
    for name, extra in (("without", []), ("with", ["--vocoder-path", str(vocos)])):
        out = tmp_path / name
        rc = cli.main(["run", str(fs.checkpoints["trainer"]), *_trainer_side(fs), "--out", str(out), *extra,
                       *script])
        runs[name] = (rc, json.loads((out / "run.json").read_text()))
    (rc_without, without), (rc_with, with_path) = runs["without"], runs["with"]
    assert rc_without == rc_with == 1
    assert without["culprits"] == with_path["culprits"] == ["weights"]  # infer_cli loads EMA; the Trainer raw
    undecided = without["factors"]["vocoder"]
    assert undecided["culprit"] is False and undecided["train"]["weights"] is None
    assert undecided["undecided"].startswith("not decided: the Trainer's vocos weights are not available here")
    assert undecided["train"]["name"] == "vocos"  # the Trainer's vocoder by its config, never griffin-lim
    decided = with_path["factors"]["vocoder"]
    assert decided["undecided"] is None and decided["differs"] is False
    assert decided["infer"]["weights"] == decided["train"]["weights"] is not None  # both hashed from a file
    assert not any("was not loaded" in n for n in without["notes"])


def _hub_cache(root: Path, vocos: Path) -> Path:
    """A hub cache as huggingface_hub lays it out, holding `vocos` as charactr/vocos-mel-24khz (a user who once
    ran f5 online has one; no hub is reachable here)."""
    import shutil

    repo = root / "models--charactr--vocos-mel-24khz"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name in ("config.yaml", "pytorch_model.bin"):
        shutil.copy(vocos / name, snapshot / name)
    return root


@pytest.mark.parametrize("same", [False, True])
def test_the_trainers_local_vocoder_and_the_hubs_are_told_apart_by_their_weights(same, fixture_set, pt_cases,
                                                                                   tmp_path, monkeypatch):
    """The training YAML says vocoder.is_local with its local_path (what the Trainer decoded with); infer_cli
    downloads the hub's Vocos, which the user's hub cache holds. Each side is hashed from its own file."""
    import hashlib

    import huggingface_hub.constants
    import yaml

    from f5_parity.testing.fixtures import random_vocos_dir

    fs, case = fixture_set, pt_cases[0]
    trainer_vocos = random_vocos_dir(tmp_path / "trainer-vocos", seed=0)
    hub_vocos = trainer_vocos if same else random_vocos_dir(tmp_path / "another-vocos", seed=1)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(_hub_cache(tmp_path / "hub", hub_vocos)))
    config = yaml.safe_load(fs.config.read_text())
    config["model"]["vocoder"] = {"is_local": True, "local_path": str(trainer_vocos)}
    train_yaml = tmp_path / "train.yaml"
    train_yaml.write_text(yaml.safe_dump(config))
    cmd = (f"f5-tts_infer-cli -mc {train_yaml} -p {fs.checkpoints['trainer']} -v {fs.vocab} -r {case.wav} "
           f"-s '{case.text}' -t '{case.gen_text}'")
    out = tmp_path / "out"
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(train_yaml), "--train-vocab",
                   str(fs.vocab), "--infer-cli", cmd, "--mode", "fast", "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    vocoder = data["factors"]["vocoder"]

    def sha(folder: Path) -> str:
        return hashlib.sha256((folder / "pytorch_model.bin").read_bytes()).hexdigest()

    assert rc == 1  # infer_cli loads the EMA set, the Trainer sampled the raw one
    assert vocoder["train"]["weights"] == sha(trainer_vocos)
    assert vocoder["infer"]["weights"] == sha(hub_vocos)
    assert vocoder["undecided"] is None
    if same:
        assert "vocoder" not in data["culprits"] and vocoder["differs"] is False
    else:  # another Vocos decodes the same mel: the wav stage shows it
        assert "vocoder" in data["culprits"] and vocoder["effect"]["first_divergence"] == "wav"


def test_f5s_own_chunking_of_a_long_text_is_no_rewrite(pt_cases):
    """infer_process's chunk_text splits a long text at its punctuation (no space is kept after CJK punctuation):
    the chunks the path generated, joined, are the case's text in f5's own rule, never "a text the path rewrote";
    a lowercased text is one. Uses f5-tts's own chunk_text on the texts."""
    from f5_tts.infer.utils_infer import chunk_text

    from f5_parity.cases.case import Case
    from f5_parity.observe.calls import Observation
    from f5_parity.observe.spec import text_rewrite

    for text in ("你好。今天天气很好。我们去公园散步吧。然后一起吃饭。" * 3,
                 "Amanhã nós vamos viajar para o interior. Depois, voltamos!  E então descansamos.  " * 4):
        chunks = chunk_text(text, max_chars=40)
        assert len(chunks) > 1
        case = Case("c", pt_cases[0].wav, "Eu não sei.", text)
        obs = Observation(batches=[{"ref_text": "Eu não sei. ", "gen_text_batches": chunks}])
        assert text_rewrite(obs, case) == {}
        lowered = Observation(batches=[{"ref_text": "Eu não sei. ", "gen_text_batches": [c.lower() for c in chunks]}])
        assert set(text_rewrite(lowered, case)) == ({"gen_text"} if text != text.lower() else set())
