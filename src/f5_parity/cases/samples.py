"""Cases from a Trainer samples folder: what users already have after fine-tuning.

f5-tts's Trainer (1.1.22, trainer.py ~L400-436) writes, every `save_per_updates`, to
`{checkpoint_path}/samples/`:

* `update_N_ref.wav`: the vocoder's resynthesis of the dataset mel of one training clip (not the
  recording itself), and
* `update_N_gen.wav`: the second half of a generation from that mel with the text
  `text + " " + text`, i.e. the model repeating its own reference (the copy task).

So the sample's reference is update_N_ref.wav with the sample's text as its transcript, and the
trainer's own sample is scored against that same text. The generated text of the case is held out
(never the reference text), because the copy task alone hides overfitting and duration problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from f5_parity.cases.case import Case
from f5_parity.errors import InputError

_SAMPLE = re.compile(r"^update_(\d+)_(ref|gen)\.wav$")

REF_NOTE = ("update_{n}_ref.wav is the trainer's vocoder resynthesis of the dataset mel, not the original "
            "recording: both paths start from vocoded audio")


@dataclass(frozen=True)
class SampleCases:
    """The cases built from one update's samples, and the trainer's own generation to score."""

    cases: list[Case]
    update: int
    ref_wav: Path  # update_N_ref.wav: the reference of every case
    gen_wav: Path  # update_N_gen.wav: the trainer's own sample (copy task), expected text = `text`
    text: str  # what both wavs say
    available: tuple[int, ...] = field(default=())
    note: str = ""

    def to_dict(self) -> dict:
        return {"cases": [c.to_dict() for c in self.cases], "update": self.update, "ref_wav": str(self.ref_wav),
                "gen_wav": str(self.gen_wav), "text": self.text, "available": list(self.available),
                "note": self.note}


def _updates(folder: Path) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for p in folder.iterdir():
        m = _SAMPLE.match(p.name)
        if m and p.is_file():
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    return found


def samples_folder(folder: str | Path) -> Path:
    """The folder holding update_N_*.wav: the one given, or its samples/ (a checkpoint folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"samples folder not found: {root}",
                         "give the trainer's samples folder (ckpts/<run>/samples) or the checkpoint folder above it")
    if not _updates(root) and (root / "samples").is_dir():
        return root / "samples"
    return root


def cases_from_samples(folder: str | Path, text: str, *, update: int | None = None,
                       gen_text: str | None = None) -> SampleCases:
    """One case from the trainer's samples of update `update` (default: the latest one with a reference).

    `text` is what the sample says (the transcript of the training clip it was made from); it is the
    reference text. `gen_text` defaults to a held-out Portuguese sentence (f5_parity.cases.speech.PT_BR_HELD_OUT).
    """
    from f5_parity.cases.speech import PT_BR_HELD_OUT

    root = samples_folder(folder)
    found = _updates(root)
    with_ref = sorted(n for n, kinds in found.items() if "ref" in kinds)
    if not with_ref:
        raise InputError(f"no update_*_ref.wav in {root}",
                         "point at the folder the trainer writes samples to (log_samples=True): ckpts/<run>/samples")
    if update is None:
        update = with_ref[-1]
    elif update not in with_ref:
        raise InputError(f"no update_{update}_ref.wav in {root}",
                         f"pick one of the updates there: {', '.join(str(n) for n in with_ref)}")
    if "gen" not in found[update]:
        raise InputError(f"update_{update}_ref.wav has no update_{update}_gen.wav beside it in {root}",
                         "the trainer writes both at once: copy the pair, or pick another update")
    if text is None or not str(text).strip():
        raise InputError(f"no text given for the trainer's sample update_{update}",
                         "give the transcript of the training clip the sample was made from")
    ref_wav, gen_wav = root / f"update_{update}_ref.wav", root / f"update_{update}_gen.wav"
    held_out = gen_text if gen_text and gen_text.strip() else next(t for t in PT_BR_HELD_OUT if t != str(text).strip())
    case = Case(f"update_{update}", ref_wav, str(text), held_out)
    return SampleCases([case], update, ref_wav, gen_wav, str(text), tuple(with_ref), REF_NOTE.format(n=update))
