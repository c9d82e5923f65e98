"""Vocab forensics: what F5-TTS's tokenizer makes of a vocab.txt and of the texts a user feeds it.

F5 reads a vocab in text mode (universal newlines) and keeps each line minus its last character
(``get_tokenizer``: ``vocab_char_map[line[:-1]] = i``); ``vocab_size = len(vocab_char_map)``, so a
duplicate line shrinks the vocab and moves nothing else; a missing final newline cuts the last
token's only character; unknown characters map to id 0 without a word (``list_str_to_idx``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError
from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
from f5_parity.files import sha256_file


@dataclass
class VocabReport:
    path: str
    sha256: str
    bytes: int
    lines: int
    size: int  # what F5 computes: len(vocab_char_map), duplicates collapsed
    tokens: list[str] = field(repr=False)  # one per line, as F5 reads them (id = line index)
    char_map: dict[str, int] = field(repr=False)  # F5's vocab_char_map (last duplicate wins)
    crlf_lines: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {'token', 'ids', 'kept_id'}
    space_id: int | None = None
    id0_token: str | None = None
    missing_final_newline: bool = False
    truncated_last_token: dict[str, str] | None = None  # {'line', 'token'} when the last line loses its char
    bom: bool = False
    empty_tokens: list[int] = field(default_factory=list)
    error: str | None = None  # F5 cannot read it at all (e.g. not UTF-8)

    @property
    def space_is_id0(self) -> bool:
        return self.space_id == 0

    @property
    def embedding_rows(self) -> int:
        return self.size + 1  # F5 adds one filler row

    def problems(self) -> list[str]:
        """Silent risks, in words."""
        out = []
        if self.error:
            out.append(f"F5 cannot read it: {self.error}")
        if self.duplicates:
            ex = ", ".join(f"{d['token']!r} at ids {d['ids']}" for d in self.duplicates[:3])
            out.append(f"{len(self.duplicates)} duplicate token(s) ({ex}): F5's vocab size is {self.size}, "
                       f"not the {self.lines} lines, and the earlier ids are never produced")
        if self.truncated_last_token:
            t = self.truncated_last_token
            out.append(f"no newline after the last line {t['line']!r}: F5 drops its last character and reads "
                       f"{t['token']!r}")
        if self.bom:
            out.append("starts with a UTF-8 BOM: F5 keeps it inside the first token")
        if not self.error and not self.space_is_id0:
            out.append(f"' ' is not id 0 (id 0 is {self.id0_token!r}, ' ' is {self.space_id}): unknown characters "
                       f"become {self.id0_token!r}, and F5's pinyin/char tokenizers assert ' ' at id 0")
        if self.empty_tokens:
            out.append(f"empty line(s) at ids {self.empty_tokens[:5]}: an empty token")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tokens")
        d.pop("char_map")
        d["space_is_id0"] = self.space_is_id0
        d["embedding_rows"] = self.embedding_rows
        d["problems"] = self.problems()
        return d


def analyse_vocab(path: str | Path) -> VocabReport:
    """Read a vocab exactly as F5 does and report everything that changes token ids silently."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such vocab file", "pass the vocab.txt used for training or inference")
    raw = p.read_bytes()
    try:
        tokens = read_vocab_chars(p)
        error = None
    except UnicodeDecodeError as exc:
        tokens, error = [], f"not UTF-8 ({exc.reason} at byte {exc.start})"
    char_map: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        char_map[tok] = i
    seen: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens):
        seen.setdefault(tok, []).append(i)
    duplicates = [{"token": t, "ids": ids, "kept_id": ids[-1]} for t, ids in seen.items() if len(ids) > 1]
    missing_nl = bool(raw) and not raw.endswith((b"\n", b"\r"))
    truncated = None
    if missing_nl and tokens:
        last_line = raw.decode("utf-8", errors="replace").splitlines()[-1]
        truncated = {"line": last_line, "token": tokens[-1]}
    return VocabReport(
        path=str(p),
        sha256=sha256_file(p),
        bytes=len(raw),
        lines=len(tokens),
        size=len(char_map),
        tokens=tokens,
        char_map=char_map,
        crlf_lines=raw.count(b"\r\n"),
        duplicates=duplicates,
        space_id=char_map.get(" "),
        id0_token=tokens[0] if tokens else None,
        missing_final_newline=missing_nl,
        truncated_last_token=truncated,
        bom=raw.startswith(b"\xef\xbb\xbf"),
        empty_tokens=[i for i, t in enumerate(tokens) if t == ""],
        error=error,
    )


@dataclass
class VocabComparison:
    train: str
    infer: str
    same_bytes: bool
    same_tokens: bool
    size_train: int
    size_infer: int
    same_set: bool
    only_in_train: list[str]
    only_in_infer: list[str]
    differing_ids: int  # ids whose token differs
    first_differences: list[dict[str, Any]]  # {'id', 'train', 'infer'}
    verdict: str

    @property
    def silent_remap(self) -> bool:
        """Same size, other tokens at some ids: loads without error, every such id means another char."""
        return self.size_train == self.size_infer and self.differing_ids > 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["silent_remap"] = self.silent_remap
        return d


def compare_vocabs(train: VocabReport, infer: VocabReport, limit: int = 10) -> VocabComparison:
    """Token-by-token comparison as F5 maps them (id -> token), not bytes: CRLF alone is no difference."""

    def id_to_token(r: VocabReport) -> dict[int, str]:
        return {i: t for t, i in r.char_map.items()}

    a, b = id_to_token(train), id_to_token(infer)
    ids = sorted(set(a) | set(b))
    diffs = [{"id": i, "train": a.get(i), "infer": b.get(i)} for i in ids if a.get(i) != b.get(i)]
    only_t = sorted(set(train.char_map) - set(infer.char_map))
    only_i = sorted(set(infer.char_map) - set(train.char_map))
    same_set = not only_t and not only_i
    if not diffs:
        verdict = "same tokens at the same ids" + ("" if train.sha256 == infer.sha256 else " (the bytes differ: line endings)")
    elif train.size != infer.size:
        verdict = (f"sizes differ ({train.size} vs {infer.size}): the embedding rows cannot match both, "
                   "a strict load fails with a size mismatch")
    elif same_set:
        verdict = (f"same {train.size} tokens in another order: F5 loads it without a word and {len(diffs)} ids "
                   "mean another character at inference")
    else:
        verdict = (f"same size, different tokens at {len(diffs)} ids ({len(only_t)} only in training, "
                   f"{len(only_i)} only in inference): loads without a word, those ids mean another character")
    return VocabComparison(
        train=train.path,
        infer=infer.path,
        same_bytes=train.sha256 == infer.sha256,
        same_tokens=not diffs,
        size_train=train.size,
        size_infer=infer.size,
        same_set=same_set,
        only_in_train=only_t[:limit],
        only_in_infer=only_i[:limit],
        differing_ids=len(diffs),
        first_differences=diffs[:limit],
        verdict=verdict,
    )


@dataclass
class OutsideChar:
    char: str
    codepoint: str  # 'U+0303'
    name: str
    count: int
    positions: list[int]  # token positions after F5's text frontend

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TextCoverage:
    text: str
    tokens: list[str]  # after F5's inference text frontend (convert_char_to_pinyin)
    outside: list[OutsideChar]  # tokens F5 maps to id 0 without a word
    id0_token: str | None
    is_nfc: bool
    nfc_text: str
    nfd_combining: list[str]  # combining marks present in the text, 'U+0303 COMBINING TILDE'
    outside_after_nfc: list[str]  # what would still be outside after NFC normalization
    frontend: str

    @property
    def outside_count(self) -> int:
        return sum(o.count for o in self.outside)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tokens": self.tokens,
            "outside": [o.to_dict() for o in self.outside],
            "outside_count": self.outside_count,
            "id0_token": self.id0_token,
            "is_nfc": self.is_nfc,
            "nfc_text": self.nfc_text,
            "nfd_combining": self.nfd_combining,
            "outside_after_nfc": self.outside_after_nfc,
            "frontend": self.frontend,
        }


def f5_text_tokens(text: str) -> tuple[list[str], str]:
    """The tokens F5's inference path feeds list_str_to_idx: convert_char_to_pinyin, always applied."""
    try:
        from f5_tts.model.utils import convert_char_to_pinyin
    except Exception:  # pragma: no cover - f5-tts is a dependency; keep the analysis usable without it
        return list(text), "list(text) (f5_tts.model.utils unavailable)"
    return list(convert_char_to_pinyin([text])[0]), "f5_tts.model.utils.convert_char_to_pinyin"


def _cp(c: str) -> str:
    return f"U+{ord(c):04X}" if len(c) == 1 else "+".join(f"U+{ord(x):04X}" for x in c)


def _name(c: str) -> str:
    return " ".join(unicodedata.name(x, "?") for x in c)


def text_coverage(text: str, char_map: dict[str, int]) -> TextCoverage:
    """Which characters of `text` the vocab lacks (F5 maps them to id 0 silently) and what NFC would change."""
    tokens, frontend = f5_text_tokens(text)
    id0 = next((t for t, i in char_map.items() if i == 0), None)
    found: dict[str, OutsideChar] = {}
    for pos, tok in enumerate(tokens):
        if tok not in char_map:
            o = found.setdefault(tok, OutsideChar(tok, _cp(tok), _name(tok), 0, []))
            o.count += 1
            o.positions.append(pos)
    nfc = unicodedata.normalize("NFC", text)
    combining = sorted({f"{_cp(c)} {unicodedata.name(c, '?')}" for c in text if unicodedata.combining(c)})
    after = []
    if nfc != text:
        nfc_tokens, _ = f5_text_tokens(nfc)
        after = sorted({t for t in nfc_tokens if t not in char_map})
    else:
        after = sorted(found)
    return TextCoverage(text, tokens, list(found.values()), id0, nfc == text, nfc, combining, after, frontend)


def inference_vocab_path(given: str | Path | None) -> Path:
    """The vocab load_model reads: the given file, else f5-tts's packaged infer/examples/vocab.txt."""
    return Path(given) if given else official_vocab_path()
