"""Cases from a Trainer samples folder (update_N_gen.wav / update_N_ref.wav)."""

from __future__ import annotations

import numpy as np
import pytest

from f5_parity.scoring.audio import read_audio, write_wav
from f5_parity.errors import InputError
from f5_parity.cases.samples import cases_from_samples
from f5_parity.cases.speech import PT_BR_HELD_OUT

TEXT = "Eu não sei se você vai gostar da ação."


def _tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(24000 * seconds)) / 24000
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def samples(tmp_path):
    folder = tmp_path / "ckpts" / "run" / "samples"
    for n in (400, 25400, 1200):
        write_wav(folder / f"update_{n}_ref.wav", _tone(1.0, 220 + n % 97), 24000)
        write_wav(folder / f"update_{n}_gen.wav", _tone(1.0, 330), 24000)
    write_wav(folder / "update_9999_gen.wav", _tone(0.5, 440), 24000)  # a gen without its ref never counts
    (folder / "notes.txt").write_text("not a sample")
    return folder


def test_latest_update_is_picked(samples):
    got = cases_from_samples(samples, TEXT)
    assert got.update == 25400 and got.available == (400, 1200, 25400)
    assert got.ref_wav == samples / "update_25400_ref.wav" and got.gen_wav == samples / "update_25400_gen.wav"
    (case,) = got.cases
    assert case.name == "update_25400" and case.ref_audio == got.ref_wav
    assert case.ref_text == TEXT and got.text == TEXT  # the trainer's sample repeats its reference
    assert case.gen_text == PT_BR_HELD_OUT[0] and case.gen_text != TEXT  # held out
    assert "vocoder resynthesis of the dataset mel" in got.note
    assert read_audio(got.gen_wav).sample_rate == 24000  # a real wav the report can score


def test_given_update_and_gen_text_and_checkpoint_folder(samples):
    got = cases_from_samples(samples.parent, TEXT, update=400, gen_text="Outra frase.")  # the folder above samples/
    assert got.update == 400 and got.ref_wav.name == "update_400_ref.wav"
    assert got.cases[0].gen_text == "Outra frase."
    assert got.to_dict()["gen_wav"].endswith("update_400_gen.wav")


def test_held_out_text_differs_from_the_reference_text(samples):
    got = cases_from_samples(samples, PT_BR_HELD_OUT[0])
    assert got.cases[0].gen_text == PT_BR_HELD_OUT[1]


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="samples folder not found"):
        cases_from_samples(tmp_path / "nope", TEXT)


def test_folder_without_refs(tmp_path):
    write_wav(tmp_path / "update_5_gen.wav", _tone(0.5, 300), 24000)
    with pytest.raises(InputError, match=r"no update_\*_ref.wav"):
        cases_from_samples(tmp_path, TEXT)


def test_missing_update_lists_the_available_ones(samples):
    with pytest.raises(InputError) as exc:
        cases_from_samples(samples, TEXT, update=500)
    assert "no update_500_ref.wav" in str(exc.value) and "400, 1200, 25400" in str(exc.value)


def test_ref_without_gen_and_empty_text(samples):
    (samples / "update_1200_gen.wav").unlink()
    with pytest.raises(InputError, match="no update_1200_gen.wav beside it"):
        cases_from_samples(samples, TEXT, update=1200)
    with pytest.raises(InputError, match="no text given"):
        cases_from_samples(samples, "  ")
