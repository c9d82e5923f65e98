"""Text normalization before WER/CER: Whisper's basic multilingual normalizer, diacritics kept.

Same steps as ``whisper.normalizers.BasicTextNormalizer`` (lowercase, drop ``[...]``/``<...>``
and ``(...)`` spans, every mark/symbol/punctuation character to a space, collapse whitespace),
re-implemented here so scoring text does not import torch through ``whisper``; a test checks
the two agree. One deliberate difference: the result is stripped (Whisper's leaves a trailing
space after final punctuation, which would count as a character in CER).

Diacritics survive by default: NFKC composes "não" and "coração" (even typed decomposed) into
single letters, which are not marks. ``strip_diacritics=True`` decomposes (NFKD) and drops them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Non-ASCII letters that NFKD does not split into base + mark (copied from Whisper's basic.py).
ADDITIONAL_DIACRITICS = {
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
}

_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESIZED = re.compile(r"\(([^)]+?)\)")
_WHITESPACE = re.compile(r"\s+")


def _symbols_to_spaces(text: str) -> str:
    return "".join(" " if unicodedata.category(c)[0] in "MSP" else c for c in unicodedata.normalize("NFKC", text))


def _symbols_to_spaces_and_strip_diacritics(text: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKD", text):
        if c in ADDITIONAL_DIACRITICS:
            out.append(ADDITIONAL_DIACRITICS[c])
        elif unicodedata.category(c) == "Mn":
            continue  # the accent of a decomposed letter: dropped, the base letter stays
        elif unicodedata.category(c)[0] in "MSP":
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class TextNormalizer:
    """Callable normalizer; ``name`` goes into every score so reports say how text was compared."""

    strip_diacritics: bool = False

    @property
    def name(self) -> str:
        return "whisper-basic+strip-diacritics" if self.strip_diacritics else "whisper-basic"

    def __call__(self, text: str) -> str:
        s = text.lower()
        s = _BRACKETED.sub("", s)
        s = _PARENTHESIZED.sub("", s)
        if self.strip_diacritics:
            s = _symbols_to_spaces_and_strip_diacritics(s)
        else:
            s = _symbols_to_spaces(s)
        s = s.lower()
        return _WHITESPACE.sub(" ", s).strip()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "strip_diacritics": self.strip_diacritics,
            "steps": "lowercase; drop [..] <..> (..) spans; marks/symbols/punctuation to space; "
            + ("NFKD and drop accents; " if self.strip_diacritics else "NFKC, accents kept; ")
            + "collapse whitespace; strip",
        }


def normalizer(strip_diacritics: bool = False) -> TextNormalizer:
    return TextNormalizer(strip_diacritics=strip_diacritics)


DEFAULT_NORMALIZER = TextNormalizer()
