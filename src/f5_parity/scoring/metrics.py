"""Intelligibility scores: WER/CER (jiwer), similarity (rapidfuzz), per utterance and pooled.

Scores are dataclasses that keep their evidence: the raw and normalized texts, the edit counts,
the word and character alignments, and (for audio) the ASR transcript. Aggregations are named:

* ``*_pooled``: one WER/CER over all utterances' edits (jiwer over the list), long sentences weigh more;
* ``*_mean``: the mean of per-utterance rates;
* ``cer_mean_capped``: per-utterance CER capped at 1.0 before averaging, because a looping Whisper
  ("o que é o que é ...") inserts without bound and one such utterance would dominate the mean;
* ``broken_share``: share of utterances with WER > 0.5 (how Seed-TTS-eval/F5 readers count failures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from f5_parity.scoring.audio import Audio
from f5_parity.errors import InputError
from f5_parity.results import jsonable
from f5_parity.scoring.textnorm import DEFAULT_NORMALIZER, TextNormalizer

BROKEN_WER = 0.5
CER_CAP = 1.0


@dataclass(frozen=True)
class EditCounts:
    hits: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def reference_length(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def to_dict(self) -> dict:
        return {
            "hits": self.hits,
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "reference_length": self.reference_length,
        }


def _counts(output) -> EditCounts:
    return EditCounts(output.hits, output.substitutions, output.deletions, output.insertions)


def _alignment(output, joiner: str) -> list[dict]:
    """jiwer's alignment chunks as readable JSON: each operation with the text on both sides."""
    ref, hyp = output.references[0], output.hypotheses[0]
    return [
        {
            "op": chunk.type,
            "ref": joiner.join(ref[chunk.ref_start_idx : chunk.ref_end_idx]),
            "hyp": joiner.join(hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]),
        }
        for chunk in output.alignments[0]
    ]


@dataclass
class UtteranceScore:
    """One utterance: what was expected, what was heard, how far apart, and the alignment."""

    reference: str
    hypothesis: str
    reference_normalized: str
    hypothesis_normalized: str
    normalizer: str
    wer: float
    cer: float
    similarity: float  # rapidfuzz fuzz.ratio of the normalized texts, 0-100
    words: EditCounts
    chars: EditCounts
    word_alignment: list[dict] = field(repr=False)
    char_alignment: list[dict] = field(repr=False)
    wav: str | None = None
    transcript: object | None = field(default=None, repr=False)  # asr.Transcript when scored from audio

    @property
    def cer_capped(self) -> float:
        return min(self.cer, CER_CAP)

    @property
    def broken(self) -> bool:
        return self.wer > BROKEN_WER

    def to_dict(self) -> dict:
        return jsonable(
            {
                "wav": self.wav,
                "reference": self.reference,
                "hypothesis": self.hypothesis,
                "reference_normalized": self.reference_normalized,
                "hypothesis_normalized": self.hypothesis_normalized,
                "normalizer": self.normalizer,
                "wer": self.wer,
                "cer": self.cer,
                "cer_capped": self.cer_capped,
                "similarity": self.similarity,
                "broken": self.broken,
                "words": self.words.to_dict(),
                "chars": self.chars.to_dict(),
                "word_alignment": self.word_alignment,
                "char_alignment": self.char_alignment,
                "transcript": self.transcript.to_dict() if self.transcript is not None else None,
            }
        )


def check_reference(reference: str, normalizer: TextNormalizer = DEFAULT_NORMALIZER) -> str:
    """The normalized expected text; InputError when it is empty or has no words."""
    if reference is None or not str(reference).strip():
        raise InputError("expected text is empty", "pass the sentence the audio should say, e.g. --text \"Eu não sei.\"")
    normalized = normalizer(reference)
    if not normalized:
        raise InputError(
            f"expected text {reference!r} has no words once normalized ({normalizer.name})",
            "pass the sentence the audio should say, with letters or digits in it",
        )
    return normalized


def score_text(reference: str, hypothesis: str, normalizer: TextNormalizer = DEFAULT_NORMALIZER) -> UtteranceScore:
    """WER, CER and similarity of `hypothesis` against `reference`, both normalized first."""
    import jiwer
    from rapidfuzz import fuzz

    ref = check_reference(reference, normalizer)
    hyp = normalizer(hypothesis or "")
    words = jiwer.process_words(ref, hyp)
    chars = jiwer.process_characters(ref, hyp)
    return UtteranceScore(
        reference=reference,
        hypothesis=hypothesis or "",
        reference_normalized=ref,
        hypothesis_normalized=hyp,
        normalizer=normalizer.name,
        wer=float(words.wer),
        cer=float(chars.cer),
        similarity=float(fuzz.ratio(ref, hyp)),
        words=_counts(words),
        chars=_counts(chars),
        word_alignment=_alignment(words, " "),
        char_alignment=_alignment(chars, ""),
    )


def score_wav(
    path_or_audio: str | Path | Audio,
    expected_text: str,
    asr,
    normalizer: TextNormalizer = DEFAULT_NORMALIZER,
) -> UtteranceScore:
    """Transcribe a wav (decoded in-process, mono, 16 kHz) with `asr` and score it; keeps the transcript."""
    from f5_parity.scoring.asr import audio_for_asr

    check_reference(expected_text, normalizer)  # refuse bad text before spending ASR time
    audio = audio_for_asr(path_or_audio)
    transcript = asr.transcribe(audio.samples)
    score = score_text(expected_text, transcript.text, normalizer)
    score.wav = audio.path
    score.transcript = transcript
    return score


@dataclass
class PooledScore:
    """A set of utterances, aggregated several named ways (see the module docstring)."""

    n: int
    normalizer: str
    wer_pooled: float
    cer_pooled: float
    wer_mean: float
    cer_mean: float
    cer_mean_capped: float
    similarity_mean: float
    broken_share: float  # share of utterances with WER > BROKEN_WER
    words: EditCounts
    chars: EditCounts

    def to_dict(self) -> dict:
        return jsonable(
            {
                "n": self.n,
                "normalizer": self.normalizer,
                "wer_pooled": self.wer_pooled,
                "cer_pooled": self.cer_pooled,
                "wer_mean": self.wer_mean,
                "cer_mean": self.cer_mean,
                "cer_mean_capped": self.cer_mean_capped,
                "similarity_mean": self.similarity_mean,
                "broken_share": self.broken_share,
                "words": self.words.to_dict(),
                "chars": self.chars.to_dict(),
                "aggregation": {
                    "pooled": "edits summed over all utterances / reference length summed (jiwer over the list)",
                    "mean": "unweighted mean of per-utterance rates",
                    "cer_mean_capped": f"per-utterance CER capped at {CER_CAP} before the mean",
                    "broken": f"WER > {BROKEN_WER}",
                },
            }
        )


def pool(scores: Iterable[UtteranceScore]) -> PooledScore:
    import jiwer

    scores = list(scores)
    if not scores:
        raise InputError("no utterances to pool", "score at least one utterance")
    names = {s.normalizer for s in scores}
    if len(names) != 1:
        raise ValueError(f"cannot pool scores made with different normalizers: {sorted(names)}")
    refs = [s.reference_normalized for s in scores]
    hyps = [s.hypothesis_normalized for s in scores]
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    n = len(scores)
    return PooledScore(
        n=n,
        normalizer=names.pop(),
        wer_pooled=float(words.wer),
        cer_pooled=float(chars.cer),
        wer_mean=sum(s.wer for s in scores) / n,
        cer_mean=sum(s.cer for s in scores) / n,
        cer_mean_capped=sum(s.cer_capped for s in scores) / n,
        similarity_mean=sum(s.similarity for s in scores) / n,
        broken_share=sum(s.broken for s in scores) / n,
        words=_counts(words),
        chars=_counts(chars),
    )


def score_report(scores: Sequence[UtteranceScore], asr=None, normalizer: TextNormalizer = DEFAULT_NORMALIZER) -> dict:
    """The JSON `parity-check score --json` writes: ASR settings, normalizer, utterances, pooled."""
    return jsonable(
        {
            "asr": asr.describe() if asr is not None else None,
            "normalizer": normalizer.to_dict(),
            "utterances": [s.to_dict() for s in scores],
            "pooled": pool(scores).to_dict(),
        }
    )
