"""The real F5-TTS failure reports (../shared/design/real-cases.md, docs/real-cases.md) as executable cases.

Each case does what those users did — a command line without -mc, the default vocab, a bigvgan mel, a
relative reference with edited f5-tts code — on a tiny real F5 checkpoint, through the real `parity-check`
entry point (cli.main, in-process) and the real f5-tts code it drives; the assertions are the culprit and
the fix the report must name. Fast mode throughout: no decode, one forward pass per spec.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from f5_parity import cli

REPO = Path(__file__).resolve().parents[1]
FX = REPO / "fixtures" / "ptbr-tiny"


def _run(tmp_path: Path, checkpoint, *args: str) -> tuple[int, dict]:
    out = tmp_path / "report"
    rc = cli.main(["run", str(checkpoint), "--vocoder", "griffin-lim", "--mode", "fast", "--seed", "0",
                   "--out", str(out), *args])
    return rc, json.loads((out / "run.json").read_text())


def _ref(case) -> list[str]:
    return ["--ref-audio", str(case.wav), "--ref-text", case.text]


def _trainer(fs) -> list[str]:
    return ["--train-config", str(fs.config), "--train-vocab", str(fs.vocab)]


# --- F5-TTS #165, #904, #911: size mismatch on load ----------------------------------------------------------

def test_infer_cli_without_model_config_on_a_custom_size_checkpoint_names_arch_and_the_config(
        fixture_set, pt_cases, tmp_path):
    """`f5-tts_infer-cli -p model.pt -v vocab.txt` (no -m/-mc) builds F5TTS_v1_Base: load_state_dict raises
    'size mismatch'. The model built (observed) against the checkpoint's shapes names arch, and -mc."""
    fs = fixture_set
    ckpt = fs.checkpoints["trainer"]
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-cli", f"f5-tts_infer-cli -p {ckpt} -v {fs.vocab}")
    assert rc == 1 and data["culprits"] == ["arch"]
    failure = data["observed_infer"]["failure"]
    assert failure["stage"] == "load" and failure["factor"] == "arch"
    assert f"-mc {fs.config}" in failure["fix"] and "F5TTS_v1_Base" in failure["fix"]
    built, held = failure["evidence"]["built"], failure["evidence"]["checkpoint"]
    assert built["dim"] == 1024 and held["dim"] == fs.run.arch["dim"]  # what infer_cli built vs the file
    assert data["factors"]["arch"]["fix"] == failure["fix"]


def test_the_v0_base_config_on_a_custom_size_fine_tune_names_arch(fixture_set, pt_cases, tmp_path):
    """`-m F5TTS_Base` (the v0 config users copy from old threads) on another size: arch, not weights."""
    fs = fixture_set
    ckpt = fs.checkpoints["trainer"]
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-cli", f"f5-tts_infer-cli -m F5TTS_Base -p {ckpt} -v {fs.vocab}")
    assert rc == 1 and data["culprits"] == ["arch"]
    assert f"-mc {fs.config}" in data["observed_infer"]["failure"]["fix"]


# --- F5-TTS #915, #115, #870: text-embedding size mismatch ----------------------------------------------------

def test_infer_cli_with_the_default_vocab_names_vocab(fixture_set, pt_cases, tmp_path):
    """-mc given, -v left out: infer_cli's default (Emilia) vocab builds an embedding of another size."""
    fs = fixture_set
    ckpt = fs.checkpoints["trainer"]
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-cli", f"f5-tts_infer-cli -mc {fs.config} -p {ckpt}")
    assert rc == 1 and data["culprits"] == ["vocab"]
    failure = data["observed_infer"]["failure"]
    assert failure["stage"] == "load"
    assert f"({len(fs.run.vocab_chars)} lines)" in failure["fix"] and "-v" in failure["fix"]


# --- file layout: a DDP/torch.compile prefix is the weights' layout, not the model --------------------------

def test_a_wrapper_prefixed_checkpoint_names_the_file_layout(fixture_set, pt_cases, tmp_path):
    fs = fixture_set
    ckpt = fs.checkpoints["module-prefix"]
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-cli", f"f5-tts_infer-cli -mc {fs.config} -p {ckpt} -v {fs.vocab}")
    failure = data["observed_infer"]["failure"]
    assert rc == 1 and failure and failure["factor"] == "weights", failure
    assert "module." in failure["fix"] and "bare state dict" in failure["fix"]


# --- F5-TTS #895 (#848, #1231): a pruned EMA-only export judged against the Trainer's samples ---------------

@pytest.mark.parametrize("infer", ["infer-cli", "load_model use_ema=False"])
def test_a_pruned_ema_only_export_names_weights(infer, fixture_set, pt_cases, tmp_path):
    """The finetune tab's pruned copy keeps only ema_model_state_dict. Through infer_cli (always EMA) the path
    loads what the Trainer never sampled from: the trainer side cannot be rebuilt from the file (said as the
    tool's limit on it) and the culprit is weights, from the prediction. A path that asks the file for its raw
    weights (load_model(..., use_ema=False)) fails to load, and the observed load names weights too."""
    fs = fixture_set
    pruned = fs.checkpoints["pretrained-pt"]  # {"ema_model_state_dict": ...} only, as the export writes it
    side = (["--infer-cli", f"f5-tts_infer-cli -p {pruned} -mc {fs.config} -v {fs.vocab}"] if infer == "infer-cli"
            else ["--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema"])
    rc, data = _run(tmp_path, pruned, *_trainer(fs), *_ref(pt_cases[0]), *side)
    assert rc == 1 and data["culprits"] == ["weights"], (data["culprits"], data["notes"])
    fix = data["factors"]["weights"]["fix"]
    if infer == "infer-cli":
        assert data["observed_infer"]["failure"] is None  # the path itself ran: nothing of it is blamed
        assert data["factors"]["weights"]["train"] == {"set": "raw"} and data["factors"]["weights"]["infer"] == {"set": "ema"}
        assert "model_state_dict as ema_model_state_dict" in fix
        assert any("cannot be rebuilt from this file" in n and "holds only: ema" in n for n in data["notes"])
    else:
        failure = data["observed_infer"]["failure"]
        assert failure["stage"] == "load" and failure["factor"] == "weights" and "holds only: ema" in fix


# --- F5-TTS #1140, #1207 (#311): a reference over 12 s with its whole transcript ----------------------------

LONG_TEXT = ("Eu não sei se você vai gostar da ação. Ontem choveu muito na cidade e ninguém saiu de casa. "
             "A menina comprou pão, leite e frutas na feira. Meu avô gosta de ler livros antes de dormir. "
             "O trem chegou atrasado na estação central.")


def test_a_long_reference_with_its_whole_transcript_is_named_with_the_clip(fixture_set, tmp_path):
    """infer's preprocess_ref_audio_text clips a reference over 12 s but the user keeps its whole transcript:
    the generation then starts with the end of the reference text. The report says so, with both lengths."""
    from f5_parity.cases.speech import speak

    fs = fixture_set
    wav = speak(LONG_TEXT, tmp_path / "long_ref.wav", words_per_minute=120)  # ~22 s of espeak-ng pt-br
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), "--ref-audio", str(wav), "--ref-text",
                    LONG_TEXT, "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema")
    clip = next(w for w in data["warnings"] if w["factor"] == "ref-audio")
    assert clip["metrics"]["seconds_in"] > 12 > clip["metrics"]["seconds_used"], clip
    assert "keeps the whole transcript" in clip["message"]
    assert not clip["metrics"]["cut_without_pause"] and "no pause" not in clip["message"]  # cut at espeak's pauses
    assert "keeps the whole transcript" in (tmp_path / "report" / "report.md").read_text()


def test_a_long_reference_without_a_pause_is_said_to_be_cut_inside_the_sound(fixture_set, tmp_path):
    """F5-TTS #311, #306: preprocess_ref_audio_text cuts a long reference at a pause; over steady background
    sound it finds none and cuts at the 12 s limit, inside a word. The clip warning says so, with the fix."""
    import numpy as np

    from f5_parity.cases.speech import speak
    from f5_parity.scoring.audio import F5_SAMPLE_RATE, read_audio, write_wav

    fs = fixture_set
    speech = read_audio(speak(LONG_TEXT, tmp_path / "long_ref.wav", words_per_minute=120)).samples
    hum = 0.04 * np.sin(2 * np.pi * 100 * np.arange(speech.size) / F5_SAMPLE_RATE)  # mains hum: never silent
    ref = write_wav(tmp_path / "hum_ref.wav", (0.7 * speech + hum).astype(np.float32), F5_SAMPLE_RATE)
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), "--ref-audio", str(ref), "--ref-text",
                    LONG_TEXT, "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema")
    clip = next(w for w in data["warnings"] if w["factor"] == "ref-audio")
    assert clip["metrics"]["cut_without_pause"] is True and clip["metrics"]["seconds_used"] >= 12, clip
    assert "found no pause to cut at" in clip["message"] and "give a reference under 12 s" in clip["message"]
    assert "found no pause to cut at" in (tmp_path / "report" / "report.md").read_text()


# --- F5-TTS #872: an infer config with mel_spec_type bigvgan on a vocos-trained model -------------------------

def test_a_bigvgan_mel_config_names_mel_not_the_users_path(fixture_set, pt_cases, tmp_path):
    """The tool's griffin-lim stand-in cannot invert bigvgan features: that is the tool's limit, said as
    such; the culprit comes from the prediction and the stages (mel), and the run is not 'your path failed'."""
    import yaml

    fs = fixture_set
    cfg = yaml.safe_load(fs.config.read_text())
    cfg["model"]["mel_spec"]["mel_spec_type"] = "bigvgan"
    bigvgan = tmp_path / "F5TTS_tiny_bigvgan.yaml"
    bigvgan.write_text(yaml.safe_dump(cfg, sort_keys=False))
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-config", str(bigvgan), "--infer-vocab", str(fs.vocab), "--no-infer-ema")
    assert rc == 1 and data["culprits"] == ["mel"], data["culprits"]
    assert data["observed_infer"]["status"] == "observed" and data["observed_infer"]["failure"] is None
    assert any("not observed" in n and "griffin-lim" in n for n in data["notes"])


# --- item 6: a relative --ref-audio with edited f5-tts code (the installed Trainer makes the trainer side) -----

def _edited_copy(dest: Path) -> None:
    from f5_parity.f5 import environment as E

    pkg = dest / "f5_tts"
    shutil.copytree(E.loaded_package_dir(), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    trainer = pkg / "model" / "trainer.py"
    trainer.write_text(trainer.read_text().replace("steps=nfe_step,", "steps=16,"))


@pytest.mark.slow
def test_a_relative_reference_works_with_edited_trainer_code(pt_cases, tmp_path):
    """The installed Trainer runs after a chdir into a temp folder: the reference given relative to the
    user's folder must still be the one it samples."""
    _edited_copy(tmp_path / "edited")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(pt_cases[0].wav, work / "ref.wav")
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(tmp_path / "edited")}  # f5_parity itself comes from this interpreter's install
    args = ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
            "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt",
            "--infer-config", f"{FX}/F5TTS_ptbr_tiny.yaml", "--no-infer-ema", "--vocoder", "griffin-lim",
            "--ref-audio", "ref.wav", "--ref-text", pt_cases[0].text, "--mode", "fast", "--seed", "0",
            "--out", "out"]
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]  # the edit (nfe 16) breaks parity
    report = json.loads((work / "out" / "run.json").read_text())
    assert report["environment"]["trainer_side"] == "installed-trainer"
    assert report["culprits"] == ["sampler"]


# --- F5-TTS #1105, #666 (xorbitsai/inference#2678): a 16 kHz reference on a 24 kHz model ----------------------

def _low_rate_reference(path: Path, rate: int) -> Path:
    """espeak-ng speech as a phone or an ASR corpus records it: resampled down to `rate` and saved there."""
    from f5_parity.cases.speech import speak
    from f5_parity.scoring.audio import F5_SAMPLE_RATE, read_audio, resample, write_wav

    full = read_audio(speak(LONG_TEXT.split(". ")[0] + ".", path.with_suffix(".24k.wav")))
    return write_wav(path, resample(full.samples, F5_SAMPLE_RATE, rate), rate)


def test_a_16_khz_reference_is_named_with_the_models_rate(fixture_set, tmp_path):
    """Both paths resample the 16 kHz reference to 24 kHz, so no stage differs: the missing band above 8 kHz
    (never absent in the model's training audio) is a finding that names both rates and the fix."""
    fs = fixture_set
    ref = _low_rate_reference(tmp_path / "ref_16k.wav", 16_000)
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), "--ref-audio", str(ref), "--ref-text",
                    LONG_TEXT.split(". ")[0] + ".", "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab),
                    "--no-infer-ema")
    assert data["parity_verdict"] == "pass" and data["culprits"] == [], (data["culprits"], data["notes"])
    rate = next(w for w in data["warnings"] if w["factor"] == "ref-audio")
    assert rate["metrics"] == {"sample_rate": 16000, "target_sample_rate": 24000}, rate
    assert "resampling up does not restore the missing band" in rate["message"]
    assert "sampled at 16000 Hz, below the model's target_sample_rate 24000 Hz" in (
        tmp_path / "report" / "report.md").read_text()


def test_an_8_khz_reference_is_refused_with_the_fix(fixture_set, tmp_path, capsys):
    """Telephone audio (8 kHz) leaves F5's mel above 4 kHz empty: refused before any model loads, one line."""
    fs = fixture_set
    ref = _low_rate_reference(tmp_path / "ref_8k.wav", 8_000)
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), *_trainer(fs), "--ref-audio", str(ref), "--ref-text",
                   "Eu não sei.", "--infer-config", str(fs.config), "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert rc == 2 and "sampled at 8000 Hz" in err and "upsampling cannot restore the missing band" in err, err


# --- F5-TTS #684, #648, #767: a fine-tune turns to gibberish after updating f5-tts ------------------------------

DASHED = ("Ontem – disse ela – choveu muito na cidade.", "A menina comprou pão, leite e frutas na feira.")


def _prepared_by(release: str, tmp_path: Path) -> Path:
    """A dataset prepared by F5's own prepare_csv_wavs (installed f5-tts), then, for the older release, its
    raw.arrow text as that release stored it: before 2024-12-06 convert_char_to_pinyin sent a segment made
    only of 3-byte characters (the en dash here) through its Chinese branch, which put a space before it."""
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    from f5_parity.testing import training

    prepared = training.prepare_dataset(training.generate_dataset(tmp_path / "data", sentences=DASHED),
                                        tmp_path / "prepared", quiet=True)
    if release == "before 2024-12-06":
        rows = list(Dataset.from_file(str(prepared / "raw.arrow")))
        with ArrowWriter(path=str(prepared / "raw.arrow")) as writer:
            for row in rows:
                old = [t for c in row["text"] for t in ([" ", c] if c == "–" else [c])]
                writer.write({**row, "text": old})
            writer.finalize()
    return prepared


@pytest.mark.parametrize("release", ["installed", "before 2024-12-06"])
def test_a_dataset_prepared_by_another_f5_tts_names_text_and_the_preparation(release, fixture_set, tmp_path):
    """The Trainer feeds the model raw.arrow's stored conversion; infer converts the metadata.csv transcript
    with the f5-tts installed now. Prepared by the same f5-tts: parity. Prepared by an older one: text, with the
    stored and the new conversion side by side, and the fix names the preparation, not the user's text."""
    fs = fixture_set
    prepared = _prepared_by(release, tmp_path)
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), "--dataset", str(prepared),
                    "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema")
    assert data["factors"]["text"]["train"]["frontend"] == "prepared"
    changed = [w for w in data["warnings"] if w["factor"] == "text" and "raw.arrow stores" in w["message"]]
    if release == "installed":
        assert rc == 0 and data["culprits"] == [] and not changed, (data["culprits"], changed)
        return
    assert rc == 1 and data["culprits"] == ["text"], (data["culprits"], data["notes"])
    assert data["first_divergence"]["ptbr_000"] == "tokens"
    assert "prepare_csv_wavs" in data["factors"]["text"]["fix"] and "pip install f5-tts==" in data["factors"]["text"]["fix"]
    stored, now = changed[0]["metrics"]["changes"][0]
    assert stored.startswith("Ontem  – ") and now.startswith("Ontem – "), changed  # the space the old release added
    assert "raw.arrow stores" in (tmp_path / "report" / "report.md").read_text()


# --- F5-TTS #1179, #1039: a long gen text, which infer_process splits into chunks -----------------------------

def test_a_long_chunked_gen_text_says_how_many_chunks_and_which_was_compared(fixture_set, pt_cases, tmp_path):
    """infer_process cuts a long text into chunks and infer_batch_process samples them in worker threads: the
    first CFM.sample call observed can be the second chunk's. It is compared with that chunk (no invented text
    or duration finding from matching it against the first), and the report says N chunks, which one was judged."""
    fs = fixture_set
    ckpt = fs.checkpoints["trainer"]
    text = f"{LONG_TEXT} {LONG_TEXT}"
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]), "--gen-text", text,
                    "--infer-cli", f"f5-tts_infer-cli -p {ckpt} -mc {fs.config} -v {fs.vocab} -t '{text}'")
    observed = data["observed_infer"]
    chunked = [n for n in observed["notes"] if "chunks (infer_process's chunk_text" in n]
    assert chunked and "is the call observed and compared" in chunked[0], observed["notes"]
    assert not [f for f in observed["findings"] if f["factor"] in ("text", "duration")], observed["findings"]
    assert observed["mirror_check"]["passed"] is True
    assert data["culprits"] == ["weights"]  # infer_cli loads the EMA set: the only real difference
    assert "is the call observed and compared" in (tmp_path / "report" / "report.md").read_text()


def test_the_compared_chunk_is_the_one_the_observed_call_generated():
    """Which call the observer records first depends on the threads, so the CLI case above cannot force the
    second chunk's: here the call's tokens are f5's own conversion of reference + chunk, for each chunk."""
    from f5_tts.model.utils import convert_char_to_pinyin

    from f5_parity.observe.chunks import chunked_generation

    ref, chunks = "Eu não sei se você vai gostar da ação. ", LONG_TEXT.split(". A menina")
    batches = [{"gen_text_batches": chunks}]
    for i, chunk in enumerate(chunks):
        found = chunked_generation(batches, convert_char_to_pinyin([ref + chunk])[0])
        assert found.compared == i and f"chunk {i + 1} of 2" in found.note()
    assert chunked_generation([{"gen_text_batches": chunks[:1]}], None) is None  # not split: nothing to say


# --- ports (DakeQQ/F5-TTS-ONNX, TensorRT, MLX): a path that never calls CFM.sample ----------------------------

PORT = '''import numpy as np


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    """An exported port: its own runtime writes the wav; f5-tts's CFM.sample is never called."""
    t = np.arange(2 * 24000) / 24000
    return (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24000
'''


def test_a_port_that_never_calls_cfm_sample_is_not_blamed_on_a_factor(fixture_set, pt_cases, tmp_path):
    """Nothing of f5's sampler runs, so no stage and no factor can be judged: the report says the path never
    called CFM.sample and that its wavs (full mode) are the evidence, and names no culprit."""
    fs = fixture_set
    (tmp_path / "port.py").write_text(PORT)
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-path", f"{tmp_path / 'port.py'}:generate")
    failure = data["observed_infer"]["failure"]
    assert rc == 1 and data["culprits"] == [] and failure["factor"] is None, (data["culprits"], failure)
    assert "never called CFM.sample" in failure["fix"] and "judge it by its wavs in full mode" in failure["fix"]


# --- F5-TTS #898, #995, #876: "results differ every run" (unseeded noise) ----------------------------------------

SEEDING = '''import numpy as np
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_tts.model.utils import seed_everything

from f5_parity.paths.griffinlim import GriffinLimVocoder


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    """A user's wrapper: infer_process as infer_cli calls it. {doc}"""
    arch = yaml.safe_load(open({config!r}))["model"]["arch"]
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device, use_ema=False)
    vocoder = GriffinLimVocoder(dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                     target_sample_rate=24000, mel_spec_type="vocos"))
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    {seeding}
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, vocoder, show_info=lambda *a: None,
                               progress=None, device=device)
    return np.asarray(wav), sr
'''


@pytest.mark.parametrize("seeding", ["never seeds", "seed_everything(seed)"])
def test_a_path_that_draws_unseeded_noise_is_said_to_differ_every_run(seeding, fixture_set, pt_cases, tmp_path):
    """f5-tts's infer_process passes CFM.sample no seed (and infer_cli seeds nothing): the noise is whatever
    torch's global RNG holds, so two runs differ. That is no parity break (the tool seeds torch before it calls
    the path, and both sides here draw the same noise), so it is a sampler warning, not a culprit: it says the
    comparison is at the tool's --seed and how to judge over several draws. A path that seeds itself is not warned."""
    fs = fixture_set
    wrapper = tmp_path / "my_wrapper.py"
    wrapper.write_text(SEEDING.format(
        config=str(fs.config), doc=seeding,
        seeding="pass  # the seed argument is ignored" if seeding == "never seeds" else "seed_everything(seed)"))
    rc, data = _run(tmp_path, fs.checkpoints["trainer"], *_trainer(fs), *_ref(pt_cases[0]),
                    "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema",
                    "--infer-path", f"{wrapper}:generate")
    assert rc == 0 and data["culprits"] == [], (data["culprits"], data["observed_infer"]["findings"])
    noise = data["observed_infer"]["noise"]
    warned = [w for w in data["warnings"] if w["factor"] == "sampler"]
    if seeding != "never seeds":
        assert noise == {"seeded": True, "by": "torch.manual_seed in f5_tts.model.utils", "seed": 0}, noise
        assert not warned, warned
        return
    assert noise == {"seeded": False, "by": "nothing", "seed": None}, noise
    assert len(warned) == 1 and "draws its noise unseeded" in warned[0]["message"], data["warnings"]
    assert "--seed 0" in warned[0]["message"] and "--mode full --seeds N" in warned[0]["message"]
    assert "draws its noise unseeded" in (tmp_path / "report" / "report.md").read_text()


# --- F5-TTS #460, #1155, #811: short texts lose words (infer_process's byte-ratio duration) ---------------------

@pytest.mark.parametrize("gen_text", ["Sim.", "Eu não sei."])
def test_a_short_gen_text_through_infer_cli_names_the_duration_estimate(gen_text, fixture_set, pt_cases, tmp_path):
    """`f5-tts_infer-cli ... -t 'Sim.'`: infer_process allots frames by the bytes of the text against the
    reference's bytes and frames, and slows a gen text under 10 bytes to speed 0.3, so 'Sim.' gets about three
    times the frames its words take. The report says the estimate's ratio to the reference's own rate and the
    speed it really used; the engine's duration is the path's own (mirror check, no duration finding). A 12-byte
    text gets the plain estimate and no warning."""
    fs = fixture_set
    ckpt = fs.checkpoints["trainer"]
    rc, data = _run(tmp_path, ckpt, *_trainer(fs), *_ref(pt_cases[0]), "--gen-text", gen_text,
                    "--infer-cli", f"f5-tts_infer-cli -p {ckpt} -mc {fs.config} -v {fs.vocab} -t '{gen_text}'")
    observed = data["observed_infer"]
    assert observed["mirror_check"]["passed"] is True
    assert not [f for f in observed["findings"] if f["factor"] == "duration"], observed["findings"]
    assert data["culprits"] == ["weights"]  # infer_cli loads the EMA set; the estimate is by design, not a culprit
    warned = [w for w in data["warnings"] if w["factor"] == "duration"]
    if len(gen_text.encode()) >= 10:
        assert not warned, warned
        return
    assert len(warned) == 1 and warned[0]["metrics"]["ratio"] > 2, warned
    assert warned[0]["metrics"]["speed_used"] == 0.3, warned
    assert "estimated it at speed 0.30, not the path's speed 1" in warned[0]["message"]
    assert "fix_duration" in warned[0]["message"]
    assert "speed 0.30" in (tmp_path / "report" / "report.md").read_text()
