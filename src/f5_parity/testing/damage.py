"""The damage table: what each single infer-side mistake costs, in what Whisper hears.

On a trained checkpoint, generate every case through the real infer path (infer_cli's wiring) once
correctly configured and once per injected fault, plus the trainer path and the ground-truth
baseline; score all with the same ASR. Rows answer "which of these mistakes matters most".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from f5_parity.scoring.audio import write_wav
from f5_parity.cases.case import Case
from f5_parity.testing.faults import FAULTS, inject
from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import DTYPES, ModelPool


@dataclass
class DamageRow:
    row: str  # "ground truth (Griffin-Lim)", "trainer", "infer (clean)", or a factor id
    description: str
    cer: float | None
    wer: float | None
    similarity: float | None
    n: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DamageTable:
    rows: list[DamageRow] = field(default_factory=list)
    asr: dict[str, Any] = field(default_factory=dict)
    vocoder: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows], "asr": self.asr, "vocoder": self.vocoder}

    def markdown(self) -> str:
        lines = ["| infer side | what was changed | CER (capped mean) | WER (pooled) | similarity % |", "|---|---|---|---|---|"]
        for r in self.rows:
            fmt = (lambda x, f: "-" if x is None else format(x, f))
            lines.append(f"| {r.row} | {r.description}{' — ' + r.note if r.note else ''} | {fmt(r.cer, '.2f')} | "
                         f"{fmt(r.wer, '.2f')} | {fmt(r.similarity, '.1f')} |")
        return "\n".join(lines)


def _case_for(spec: PathSpec, case: Case) -> Case:
    """The text fault lives in the user's input text: hand the infer path NFD strings."""
    form = spec.value("text").get("unicode", "as-is")
    if form in (None, "as-is"):
        return case
    return Case(case.name, case.ref_audio, unicodedata.normalize(form, case.ref_text), unicodedata.normalize(form, case.gen_text))


def generate_infer(spec: PathSpec, cases: list[Case], out: Path, tag: str, seed: int, device: str) -> list[tuple[Path, str]]:
    """Each case's held-out text through the real infer path under `spec`."""
    from f5_parity.paths.infer import load_infer_model, load_infer_vocoder, run_infer_cli

    model = load_infer_model(spec, device)
    dtype = spec.value("dtype")
    if dtype.get("weights", "fp32") != "fp32":
        model = model.to(DTYPES[dtype["weights"]])
    vocoder = load_infer_vocoder(spec, device)
    results = []
    for case in cases:
        torch.manual_seed(seed)
        use = _case_for(spec, case)
        ctx = torch.autocast("cpu", dtype=DTYPES[dtype["autocast"]]) if dtype.get("autocast", "no") != "no" else _null()
        with ctx:
            gen = run_infer_cli(spec, use, model=model, vocoder=vocoder, device=device)
        wav = write_wav(out / f"{case.name}_{tag}.wav", np.asarray(gen.wav, dtype=np.float32), gen.sample_rate)
        results.append((wav, case.gen_text))
    return results


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def damage_table(train: PathSpec, clean_infer: PathSpec, cases: list[Case], out_dir: str | Path, asr, *,
                 seed: int = 0, device: str = "cpu", factors: list[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> DamageTable:
    from f5_parity.parity.generate import generate_case
    from f5_parity.scoring.metrics import pool, score_wav

    say = progress or (lambda what: None)
    out = Path(out_dir)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    table = DamageTable(asr=asr.describe() if hasattr(asr, "describe") else {},
                        vocoder=clean_infer.value("vocoder")["name"])

    def scored(name: str, description: str, items: list[tuple[Path, str]], note: str = "") -> None:
        say(f"scoring {name}")
        scores = [score_wav(w, t, asr) for w, t in items]
        p = pool(scores)
        # CER capped at 1 per utterance before the mean: on garbage Whisper loops, and one loop would dominate.
        table.rows.append(DamageRow(name, description, p.cer_mean_capped, p.wer_pooled, p.similarity_mean, p.n, note))

    pool_ = ModelPool(device)
    base = {"griffin-lim": [], "trainer": [], "trainer-heldout": []}
    for case in cases:
        say(f"trainer path and baselines for {case.name}")
        for g in generate_case(train, clean_infer, case, out, pool_, seed, device):
            if g.path in base:
                base[g.path].append((g.wav, g.expected))
    scored("ground truth", "reference mel through Griffin-Lim (the best any path can score here)", base["griffin-lim"])
    scored("trainer", "trainer path: update_N_gen mirror, copy task", base["trainer"])
    scored("trainer (held-out)", "trainer settings on the held-out text", base["trainer-heldout"])
    say("infer path, correctly configured")
    scored("infer (clean)", "infer_cli wiring, configured as the trainer", generate_infer(clean_infer, cases, out / "wavs", "clean", seed, device))
    for fid in factors or list(FAULTS):
        description, _ = FAULTS[fid]
        if fid == "vocoder" and clean_infer.value("vocoder")["name"] == "griffin-lim":
            table.rows.append(DamageRow(fid, description, None, None, None, 0,
                                        "not measurable here: no vocoder weights exist offline, Griffin-Lim scores both"))
            continue
        if fid == "mel" and clean_infer.value("vocoder")["name"] == "griffin-lim":
            table.rows.append(DamageRow(fid, description, None, None, None, 0,
                                        "not measurable with Griffin-Lim, which inverts vocos features only; the stage "
                                        "comparison still catches it at cond_mel"))
            continue
        say(f"infer path with the {fid} fault")
        faulty = inject(clean_infer, fid, out / "faults")
        try:
            items = generate_infer(faulty, cases, out / "wavs", f"fault-{fid}", seed, device)
        except Exception as exc:  # a fault that breaks the path outright is itself the finding
            table.rows.append(DamageRow(fid, description, None, None, None, 0, f"the infer path fails: {type(exc).__name__}: {exc}"))
            continue
        scored(fid, description, items)
    return table
