"""Scoring library: normalizer, per-utterance and pooled WER/CER/similarity, evidence kept.

Text tests are pure; the two audio tests run the real embedded Whisper base on espeak-ng speech.
"""

from __future__ import annotations

import json
import unicodedata

import jiwer
import numpy as np
import pytest

from f5_parity.scoring.audio import F5_SAMPLE_RATE, read_audio
from f5_parity.errors import InputError
from f5_parity.scoring.metrics import BROKEN_WER, pool, score_text, score_wav
from f5_parity.scoring.textnorm import DEFAULT_NORMALIZER, TextNormalizer, normalizer

SENTENCES = (
    "Eu não sei se você vai gostar da ação.",
    "O coração da cidade bate mais forte à noite!",
    "Ele comprou pão, café e açúcar [risos] na padaria (ok)…",
    "Minha mãe — fez um bolo de maçã; muito   gostoso?",
    "Œuvre ½ x² «ação» ‘você’",
)


# ----------------------------------------------------------------------------- normalizer


def test_normalizer_keeps_portuguese_diacritics_by_default():
    assert DEFAULT_NORMALIZER("Eu NÃO sei, coração!") == "eu não sei coração"
    # typed decomposed (NFD) the accents still survive: NFKC composes them back
    assert DEFAULT_NORMALIZER(unicodedata.normalize("NFD", "Não, coração.")) == "não coração"
    assert DEFAULT_NORMALIZER.name == "whisper-basic"


def test_strip_diacritics_option_drops_accents_only():
    strip = normalizer(strip_diacritics=True)
    assert strip("Não, coração! Você à ação.") == "nao coracao voce a acao"
    assert strip.name == "whisper-basic+strip-diacritics"


def test_normalizer_matches_whisper_basic_text_normalizer_up_to_strip():
    from whisper.normalizers import BasicTextNormalizer

    for strip in (False, True):
        ours, theirs = TextNormalizer(strip_diacritics=strip), BasicTextNormalizer(remove_diacritics=strip)
        for text in SENTENCES + tuple(unicodedata.normalize("NFD", s) for s in SENTENCES):
            assert ours(text) == theirs(text).strip(), text


def test_normalizer_drops_bracketed_spans_and_collapses_space():
    assert DEFAULT_NORMALIZER("Ele [risos] comprou (ok) pão,   café") == "ele comprou pão café"


# ----------------------------------------------------------------------------- one utterance


def test_identical_text_up_to_case_and_punctuation_scores_perfect():
    s = score_text("Eu não sei se você vai gostar da ação.", "eu não sei, se você vai gostar da ação")
    assert (s.wer, s.cer, s.similarity) == (0.0, 0.0, 100.0)
    assert s.words.hits == 9 and s.words.errors == 0
    assert s.chars.reference_length == len("eu não sei se você vai gostar da ação")


def test_one_wrong_word_is_counted_and_aligned():
    s = score_text("Eu não sei se você vai gostar da ação.", "Eu não sei se você mais gostar da ação.")
    assert s.wer == pytest.approx(1 / 9)
    assert s.words.substitutions == 1 and s.words.hits == 8
    assert {"op": "substitute", "ref": "vai", "hyp": "mais"} in s.word_alignment
    assert s.cer == pytest.approx(jiwer.cer("eu não sei se você vai gostar da ação", "eu não sei se você mais gostar da ação"))
    assert 0 < s.cer < s.wer and 90 < s.similarity < 100
    assert not s.broken


def test_diacritics_count_as_errors_unless_stripped():
    kept = score_text("Não, coração.", "Nao, coracao.")
    stripped = score_text("Não, coração.", "Nao, coracao.", normalizer(strip_diacritics=True))
    assert kept.cer == pytest.approx(3 / len("não coração")) and kept.wer == 1.0
    assert stripped.cer == 0.0 and stripped.wer == 0.0
    assert stripped.normalizer == "whisper-basic+strip-diacritics"


def test_empty_hypothesis_is_all_deletions():
    s = score_text("O coração da cidade", "")
    assert (s.wer, s.cer, s.similarity) == (1.0, 1.0, 0.0)
    assert s.words.deletions == 4 and s.broken


def test_looping_hypothesis_cer_above_one_is_capped_for_the_mean():
    s = score_text("o que é", "o que é o que é o que é o que é o que é")
    assert s.cer > 1.0 and s.cer_capped == 1.0


@pytest.mark.parametrize("text", ["", "   ", "...", "¿?!", "[risos]"])
def test_empty_expected_text_is_input_error(text):
    with pytest.raises(InputError, match="expected text"):
        score_text(text, "qualquer coisa")


def test_score_is_json_with_evidence():
    s = score_text("Eu não sei se você vai gostar da ação.", "Eu não sei se você mais gostar da ação.")
    d = json.loads(json.dumps(s.to_dict(), ensure_ascii=False))
    assert d["hypothesis"] == "Eu não sei se você mais gostar da ação."
    assert d["hypothesis_normalized"] == "eu não sei se você mais gostar da ação"
    assert d["normalizer"] == "whisper-basic"
    assert d["words"] == {"hits": 8, "substitutions": 1, "deletions": 0, "insertions": 0, "reference_length": 9}
    assert any(op["op"] == "substitute" for op in d["char_alignment"])
    assert d["transcript"] is None


# ----------------------------------------------------------------------------- pooled


def test_pooled_is_edit_weighted_and_mean_is_per_utterance():
    scores = [
        score_text("o coração da cidade bate mais forte à noite", "o coração da cidade bate mais forte à noite"),
        score_text("não sei", "o que é o que é o que é o que é"),  # short and looping: CER far above 1
    ]
    p = pool(scores)
    assert p.n == 2
    assert p.wer_pooled == pytest.approx(jiwer.wer([s.reference_normalized for s in scores], [s.hypothesis_normalized for s in scores]))
    assert p.cer_pooled == pytest.approx(p.chars.errors / p.chars.reference_length)
    assert p.cer_mean == pytest.approx((scores[0].cer + scores[1].cer) / 2)
    assert p.cer_mean_capped == pytest.approx(0.5)  # (0 + min(cer, 1)) / 2: the loop no longer dominates
    assert p.cer_mean > 1.0 > p.cer_mean_capped
    assert p.broken_share == 0.5 and scores[1].wer > BROKEN_WER
    assert p.similarity_mean == pytest.approx((100.0 + scores[1].similarity) / 2)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["cer_mean_capped"] == pytest.approx(0.5) and "aggregation" in d


def test_pool_refuses_nothing_and_mixed_normalizers():
    with pytest.raises(InputError):
        pool([])
    with pytest.raises(ValueError, match="normalizers"):
        pool([score_text("não", "não"), score_text("não", "nao", normalizer(strip_diacritics=True))])


# ----------------------------------------------------------------------------- from audio (real Whisper)


def test_score_wav_transcribes_and_keeps_the_transcript(asr_cache, pt_cases):
    from f5_parity.scoring.asr import load_asr

    asr = load_asr()
    case = pt_cases[0]
    s = score_wav(case.wav, case.text, asr)
    assert s.wav == str(case.wav)
    assert s.transcript is not None and s.transcript.text == s.hypothesis
    assert s.transcript.language == "pt" and s.transcript.backend == "faster-whisper"
    assert s.transcript.audio_seconds == pytest.approx(read_audio(case.wav).seconds, abs=0.01)
    assert s.cer < 0.45, s.hypothesis  # espeak is robotic, but this sentence is easy
    d = s.to_dict()
    assert d["transcript"]["model"].startswith("whisper-base-ct2@sha256:")

    # an Audio object at 24 kHz gives the same result as the file (resampled in-process)
    again = score_wav(read_audio(case.wav), case.text, asr)
    assert again.hypothesis == s.hypothesis
    assert read_audio(case.wav).sample_rate == F5_SAMPLE_RATE


def test_score_wav_refuses_empty_text_and_nan_audio(asr_cache, pt_cases):
    from f5_parity.scoring.asr import load_asr
    from f5_parity.scoring.audio import Audio

    asr = load_asr()
    with pytest.raises(InputError, match="expected text is empty"):
        score_wav(pt_cases[0].wav, "  ", asr)
    bad = Audio(np.array([0.0, np.nan] * 8000, dtype=np.float32), 16_000, "nan.wav")
    with pytest.raises(InputError, match="NaN"):
        score_wav(bad, "não sei", asr)
