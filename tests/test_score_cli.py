"""`parity-check score`: bad input is one line and exit 2 (never a traceback); good input prints and writes JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from f5_parity.cli.main import EXIT_INPUT, main


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-audio")
    (d / "empty.wav").write_bytes(b"")
    (d / "text.wav").write_text("this is not audio\n")
    sf.write(d / "nosamples.wav", np.zeros(0, np.float32), 16_000)
    sf.write(d / "nan.wav", np.array([0.1, np.nan] * 8000, np.float32), 16_000, subtype="FLOAT")
    (d / "folder.wav").mkdir()
    return d


def _one_error_line(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == EXIT_INPUT, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    return lines[0]


@pytest.mark.parametrize(
    "wav, message",
    [
        ("missing.wav", "audio file not found"),
        ("empty.wav", "audio file is empty (0 bytes)"),
        ("nosamples.wav", "audio file has no samples"),
        ("text.wav", "not a readable audio file"),
        ("nan.wav", "NaN or infinite samples"),
        ("folder.wav", "got a folder"),
    ],
)
def test_bad_audio_is_one_line_and_exit_2(capsys, bad_files, wav, message):
    line = _one_error_line(capsys, ["score", str(bad_files / wav), "--text", "Eu não sei."])
    assert message in line and " — " in line  # problem — fix


@pytest.mark.parametrize(
    "texts, message",
    [
        ([""], "expected text is empty"),
        (["  "], "expected text is empty"),
        (["?!..."], "has no words once normalized"),
        ([], "got 1 wav(s) but 0 --text value(s)"),
        (["um", "dois"], "got 1 wav(s) but 2 --text value(s)"),
    ],
)
def test_bad_text_is_one_line_and_exit_2(capsys, pt_cases, texts, message):
    argv = ["score", str(pt_cases[0].wav)] + [a for t in texts for a in ("--text", t)]
    assert message in _one_error_line(capsys, argv)


def test_bad_options_are_one_line_and_exit_2(capsys, pt_cases, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    wav = str(pt_cases[0].wav)
    assert "--json points at a folder" in _one_error_line(capsys, ["score", wav, "--text", "x", "--json", str(tmp_path)])
    assert "ASR model path not found" in _one_error_line(capsys, ["score", wav, "--text", "x", "--asr-model", "./nope"])
    line = _one_error_line(capsys, ["score", wav, "--text", "x", "--asr-model", "tiny"])
    assert "could not download Whisper model 'tiny'" in line and "embedded Whisper base" in line
    assert "unknown Whisper language code" in _one_error_line(capsys, ["score", wav, "--text", "x", "--language", "xx"])


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "f5_parity", "score", str(tmp_path / "missing.wav"), "--text", "Eu não sei."],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a speed claim
    )
    assert proc.returncode == 2, proc
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        f"error: audio file not found: {tmp_path / 'missing.wav'} — check the path"
    ]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_score_prints_the_table_and_writes_json(capsys, asr_cache, pt_cases, tmp_path):
    out_json = tmp_path / "out" / "scores.json"
    argv = ["score", str(pt_cases[0].wav), str(pt_cases[1].wav), "--text", pt_cases[0].text, "--text", pt_cases[1].text]
    assert main(argv + ["--json", str(out_json)]) == 0
    out, err = capsys.readouterr()
    assert "similarity %" in out and "pooled over 2" in out and "whisper-base-ct2@sha256:" in out
    assert "Traceback" not in out + err

    report = json.loads(out_json.read_text(encoding="utf-8"))
    utterances = report["utterances"]
    assert [u["reference"] for u in utterances] == [pt_cases[0].text, pt_cases[1].text]
    assert all(u["transcript"]["text"] == u["hypothesis"] for u in utterances)
    assert all(f"{u['wer']:.3f}" in out and f"{u['cer']:.3f}" in out for u in utterances)
    assert report["asr"]["backend"] == "faster-whisper" and report["asr"]["language"] == "pt"
    assert report["asr"]["embedded"]["sha256"].startswith("d01c3014881c")
    assert report["normalizer"]["name"] == "whisper-basic"
    assert report["pooled"]["n"] == 2 and 0 <= report["pooled"]["cer_pooled"] < 0.6
    assert {"wer_pooled", "cer_pooled", "cer_mean_capped", "similarity_mean", "broken_share"} <= set(report["pooled"])

    # the first wav again with accents stripped from the comparison: never worse, and named in the JSON
    stripped_json = tmp_path / "stripped.json"
    argv = ["score", str(pt_cases[0].wav), "--text", pt_cases[0].text, "--strip-diacritics"]
    assert main(argv + ["--json", str(stripped_json)]) == 0
    capsys.readouterr()
    stripped = json.loads(stripped_json.read_text(encoding="utf-8"))
    assert stripped["normalizer"]["name"] == "whisper-basic+strip-diacritics"
    assert stripped["utterances"][0]["hypothesis"] == utterances[0]["hypothesis"]
    assert stripped["utterances"][0]["cer"] <= utterances[0]["cer"]
