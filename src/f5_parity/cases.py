"""Cases: a reference recording, its transcript, and a held-out text to generate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


@dataclass(frozen=True)
class Case:
    name: str
    ref_audio: Path
    ref_text: str
    gen_text: str  # held out: the copy task alone hides overfitting and duration problems

    def __post_init__(self):
        if not str(self.ref_text).strip():
            raise InputError(f"case {self.name!r} has an empty reference text", "give the transcript of the reference audio")
        if not Path(self.ref_audio).exists():
            raise InputError(f"reference audio not found: {self.ref_audio}", "check the path")

    def to_dict(self) -> dict:
        return {"name": self.name, "ref_audio": str(self.ref_audio), "ref_text": self.ref_text, "gen_text": self.gen_text}


def cases_from_flags(ref_audio: list[str], ref_text: list[str], gen_text: list[str] | None) -> list[Case]:
    if len(ref_audio) != len(ref_text):
        raise InputError(
            f"{len(ref_audio)} --ref-audio but {len(ref_text)} --ref-text",
            "give one --ref-text per --ref-audio, in the same order",
        )
    gen = list(gen_text or [])
    if gen and len(gen) != len(ref_audio):
        raise InputError(f"{len(gen)} --gen-text for {len(ref_audio)} --ref-audio", "give one --gen-text per case, or none")
    return [
        Case(Path(a).stem, Path(a), t, gen[i] if gen else t)
        for i, (a, t) in enumerate(zip(ref_audio, ref_text))
    ]


def builtin_cases(out_dir: str | Path, count: int = 2) -> list[Case]:
    """The built-in Portuguese sentences, spoken by espeak-ng."""
    from .speech import build_cases

    return [Case(c.name, c.wav, c.text, c.gen_text) for c in build_cases(out_dir, count)]
