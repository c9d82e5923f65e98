"""The damage table: what each single infer-side mistake costs, in what Whisper hears and in acoustic distance.

On a trained checkpoint, generate every case through the real infer path (infer_cli's wiring) once
correctly configured and once per injected fault, plus the trainer path and the ground-truth
baseline, over N noise seeds; score all with the same ASR and with MCD-DTW / log-mel DTW to the truth
and GE2E speaker similarity to the reference voice. Rows answer "which of these mistakes matters most",
and each fault says whether it is worse than the clean infer path beyond the seed noise (paired test
over the same cases and seeds). The acoustic metrics rank faults before the model is intelligible.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from f5_parity.scoring.audio import write_wav
from f5_parity.scoring.metrics import pool, score_wav
from f5_parity.scoring.stats import holm, interval, paired_test
from f5_parity.cases.case import Case
from f5_parity.demo.faults import FAULTS, inject
from f5_parity.paths.spec import PathSpec, decoder_name
from f5_parity.paths.stages import DTYPES, ModelPool


METRICS = ("cer", "similarity", "mcd", "logmel", "speaker_similarity")
HIGHER_IS_BETTER = ("similarity", "speaker_similarity")
ALPHA = 0.05  # the significance the table states for "worse than the clean infer path", after Holm-Bonferroni
TEST = ("paired t-test over (case, seed) pairs against the clean infer path, two-sided; p-values Holm-Bonferroni "
        "adjusted over every (fault, metric) comparison in the table")
CLEAN = "infer (clean)"


@dataclass
class DamageRow:
    row: str  # "ground truth", "trainer", "trainer (held-out)", "infer (clean)", or a factor id
    description: str
    cer: float | None  # capped mean over every (case, seed)
    wer: float | None
    similarity: float | None
    n: int  # utterances: cases x seeds
    note: str = ""
    seeds: int = 0
    intervals: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> mean and 95 % interval over seeds
    versus_clean: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> paired test against infer (clean)
    samples: dict[str, list] = field(default_factory=dict, repr=False)  # metric -> value per (case, seed), paired order

    def mean(self, metric: str) -> float | None:
        return (self.intervals.get(metric) or {}).get("mean")

    def worse_than_clean(self, metric: str, alpha: float = ALPHA) -> bool:
        """Worse beyond the seed noise, with the table's many comparisons accounted for (the Holm p-value)."""
        t = self.versus_clean.get(metric) or {}
        return bool(t.get("p_holm") is not None and t["p_holm"] < alpha and (t.get("worse") or 0) > 0)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "samples"} | {"pairs": self.samples}


@dataclass
class DamageTable:
    rows: list[DamageRow] = field(default_factory=list)
    asr: dict[str, Any] = field(default_factory=dict)
    vocoder: str = ""
    seeds: list[int] = field(default_factory=list)
    acoustic: dict[str, Any] = field(default_factory=dict)  # which library, model and version computes each metric

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows], "asr": self.asr, "vocoder": self.vocoder,
                "seeds": self.seeds, "alpha": ALPHA, "acoustic": self.acoustic,
                "ranking": [r.row for r in self.ranked()], "test": TEST,
                "comparisons": sum(1 for r in self.rows for t in r.versus_clean.values() if t.get("p_value") is not None)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DamageTable":
        """A table read back from damage.json (to re-render it, or to correct an older file's significance)."""
        names = set(DamageRow.__dataclass_fields__) - {"samples"}
        rows = [DamageRow(**{k: v for k, v in r.items() if k in names}, samples=r.get("pairs") or {})
                for r in data["rows"]]
        return cls(rows, data.get("asr") or {}, data.get("vocoder", ""), list(data.get("seeds") or []),
                   data.get("acoustic") or {})

    def correct_for_comparisons(self) -> None:
        """Holm-Bonferroni over every (fault, metric) test of the table: each gets p_holm and its verdict."""
        tests = [t for r in self.rows for t in r.versus_clean.values()]
        for t, p_holm in zip(tests, holm([t.get("p_value") for t in tests])):
            t["p_holm"] = p_holm
            t["significantly_worse"] = bool(p_holm is not None and p_holm < ALPHA and (t.get("worse") or 0) > 0)

    def ranked(self) -> list[DamageRow]:
        """The fault rows, most damaging first by log-mel distance to the truth (then MCD). On F5's own feature
        the distance separates what a young model's faults do; MCD-DTW on the fixture sits at ~6 dB for every
        generated path, fault or not (docs/measurements.md, "Damage table")."""
        fixed = ("ground truth", "trainer", "trainer (held-out)", CLEAN)
        faults = [r for r in self.rows if r.row not in fixed and r.mean("logmel") is not None]
        return sorted(faults, key=lambda r: (-(r.mean("logmel") or 0), -(r.mean("mcd") or 0)))

    def markdown(self) -> str:
        def cell(r: DamageRow, metric: str, fmt: str) -> str:
            i = r.intervals.get(metric) or {}
            if i.get("mean") is None:
                return "-"
            text = format(i["mean"], fmt) + (f" ± {format(i['half_width'], fmt)}" if i.get("half_width") else "")
            return f"**{text}**" if r.worse_than_clean(metric) else text

        n = len(self.seeds)
        lines = ["| infer side | what was changed | MCD dB | log-mel | speaker sim. | CER (capped) | similarity % |",
                 "|---|---|---|---|---|---|---|"]
        fixed = [r for r in self.rows if r not in self.ranked()]
        for r in fixed + self.ranked():
            lines.append(f"| {r.row} | {r.description}{' — ' + r.note if r.note else ''} | {cell(r, 'mcd', '.2f')} | "
                         f"{cell(r, 'logmel', '.3f')} | {cell(r, 'speaker_similarity', '.3f')} | "
                         f"{cell(r, 'cer', '.2f')} | {cell(r, 'similarity', '.1f')} |")
        lines += ["", f"Mean ± 95 % interval half-width over {n} seed{'s' if n != 1 else ''} "
                      f"({', '.join(map(str, self.seeds))}); **bold** = worse than the clean infer path at p < {ALPHA} "
                      f"(paired t-test over the same cases and seeds, Holm-Bonferroni adjusted over the table's "
                      f"{sum(1 for r in self.rows for t in r.versus_clean.values() if t.get('p_value') is not None)} "
                      "comparisons). Faults are ranked by log-mel distance to the truth."]
        return "\n".join(lines)


def _case_for(spec: PathSpec, case: Case) -> Case:
    """The text fault lives in the user's input text: hand the infer path NFD strings."""
    form = spec.value("text").get("unicode", "as-is")
    if form in (None, "as-is"):
        return case
    return Case(case.name, case.ref_audio, unicodedata.normalize(form, case.ref_text), unicodedata.normalize(form, case.gen_text))


def load_infer(spec: PathSpec, device: str) -> tuple[Any, Any]:
    """The model (in the spec's weight dtype) and vocoder infer_cli's wiring generates with."""
    from f5_parity.paths.infer import load_infer_model, load_infer_vocoder

    model = load_infer_model(spec, device)
    dtype = spec.value("dtype")
    if dtype.get("weights", "fp32") != "fp32":
        model = model.to(DTYPES[dtype["weights"]])
    return model, load_infer_vocoder(spec, device)


def generate_infer(spec: PathSpec, cases: list[Case], out: Path, tag: str, seed: int, device: str,
                   loaded: tuple[Any, Any] | None = None) -> list[tuple[Path, str]]:
    """Each case's held-out text through the real infer path under `spec` (`loaded`: its load_infer, reused)."""
    from f5_parity.paths.infer import run_infer_cli

    spec = spec.with_value("sampler", seed=seed)  # infer_cli's wiring seeds from its spec
    model, vocoder = loaded or load_infer(spec, device)
    dtype = spec.value("dtype")
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
                 seed: int = 0, seeds: int = 1, device: str = "cpu", factors: list[str] | None = None,
                 progress: Callable[[str], None] | None = None, trainer_rows: bool = True) -> DamageTable:
    """Every row over `seeds` noise seeds (seed, seed+1, ...), each (case, seed) scored by the ASR and by the
    acoustic metrics against its truth (the held-out clip for held-out text, the reference for the copy task).
    asr=None scores the acoustic metrics only (CER and similarity stay empty); trainer_rows=False leaves out
    the trainer rows (the ground-truth row and the infer rows remain), which the tests do not need."""
    from f5_parity.parity.generate import generate_case
    from f5_parity.scoring.acoustic import AcousticScorer, describe

    say = progress or (lambda what: None)
    out = Path(out_dir)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    seed_list = [seed + k for k in range(max(1, seeds))]
    table = DamageTable(asr=asr.describe() if hasattr(asr, "describe") else {} if asr is not None else {"asr": None},
                        vocoder=clean_infer.value("vocoder")["name"], seeds=seed_list, acoustic=describe())
    scorer = AcousticScorer()
    by_name = {c.name: c for c in cases}

    def scored(name: str, description: str, items: list[tuple[Path, str, str, int, str]], note: str = "") -> DamageRow:
        """items: (wav, expected text, case name, seed, truth kind "reference" | "held-out")."""
        say(f"scoring {name}")
        row = DamageRow(name, description, None, None, None, len(items), note, seeds=len({i[3] for i in items}))
        utts, values = [], {m: [] for m in METRICS}
        for wav, expected, case_name, _, truth_kind in sorted(items, key=lambda i: (i[2], i[3])):
            case = by_name[case_name]
            utt = score_wav(wav, expected, asr) if asr is not None else None  # None: acoustic metrics only
            utts.append(utt)
            truth = case.ref_audio if truth_kind == "reference" else case.gen_audio
            a = scorer.score(wav, voice=case.ref_audio, truth=truth, truth_name=truth_kind if truth else None)
            for m, v in (("cer", utt and utt.cer_capped), ("similarity", utt and utt.similarity), ("mcd", a.mcd),
                         ("logmel", a.logmel), ("speaker_similarity", a.speaker_similarity)):
                values[m].append(v)
        if asr is not None:
            p = pool(utts)
            # CER capped at 1 per utterance before the mean: on garbage Whisper loops, and one would dominate.
            row.cer, row.wer, row.similarity = p.cer_mean_capped, p.wer_pooled, p.similarity_mean
        row.samples = values
        for m in METRICS:
            per_seed = [_mean([v for v, it in zip(values[m], sorted(items, key=lambda i: (i[2], i[3]))) if it[3] == s])
                        for s in seed_list]
            row.intervals[m] = {**interval(per_seed), "per_seed": per_seed}
        table.rows.append(row)
        return row

    pool_ = ModelPool(device)
    base: dict[str, list] = {"griffin-lim": [], "trainer": [], "trainer-heldout": []}
    for s in seed_list if trainer_rows else seed_list[:1]:  # Griffin-Lim of the truth needs no seed
        for case in cases:
            say(f"trainer path and baselines for {case.name}, seed {s}")
            for g in generate_case(train, clean_infer, case, out / f"seed-{s}", pool_, s, device, cross_paths=True):
                if g.path in base and (g.path != "griffin-lim" or s == seed_list[0]):
                    truth = "held-out" if g.path == "trainer-heldout" else "reference"
                    base[g.path].append((g.wav, g.expected, case.name, s, truth))
    scored("ground truth", "reference mel through Griffin-Lim (the best any path can score here)", base["griffin-lim"])
    if trainer_rows:
        scored("trainer", "trainer path: update_N_gen mirror, copy task", base["trainer"])
        scored("trainer (held-out)", "trainer settings on the held-out text", base["trainer-heldout"])

    def infer_items(spec: PathSpec, tag: str) -> list[tuple[Path, str, str, int, str]]:
        items = []
        for s in seed_list:
            for (wav, expected), case in zip(generate_infer(spec, cases, out / "wavs", f"{tag}-seed{s}", s, device), cases):
                items.append((wav, expected, case.name, s, "held-out"))
        return items

    say("infer path, correctly configured")
    clean = scored(CLEAN, "infer_cli wiring, configured as the trainer", infer_items(clean_infer, "clean"))
    for fid in factors or list(FAULTS):
        description, _ = FAULTS[fid]
        if fid == "vocoder" and decoder_name(clean_infer) == "griffin-lim":
            table.rows.append(DamageRow(fid, description, None, None, None, 0,
                                        "not measurable here: no vocoder weights exist offline, Griffin-Lim scores both"))
            continue
        if fid == "mel" and decoder_name(clean_infer) == "griffin-lim":
            table.rows.append(DamageRow(fid, description, None, None, None, 0,
                                        "not measurable with Griffin-Lim, which inverts vocos features only; the stage "
                                        "comparison still catches it at cond_mel"))
            continue
        say(f"infer path with the {fid} fault")
        faulty = inject(clean_infer, fid, out / "faults")
        try:
            items = infer_items(faulty, f"fault-{fid}")
        except Exception as exc:  # a fault that breaks the path outright is itself the finding
            table.rows.append(DamageRow(fid, description, None, None, None, 0, f"the infer path fails: {type(exc).__name__}: {exc}"))
            continue
        row = scored(fid, description, items)
        row.versus_clean = _versus(clean, row)
    table.correct_for_comparisons()
    return table


def _mean(values: list) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


def _versus(clean: DamageRow, row: DamageRow) -> dict[str, dict[str, Any]]:
    """Per metric: the paired test of this row against the clean infer path (same cases, same seeds)."""
    out = {}
    for m in METRICS:
        t = paired_test(clean.samples.get(m, []), row.samples.get(m, []))
        worse = None if t.mean_difference is None else (-t.mean_difference if m in HIGHER_IS_BETTER else t.mean_difference)
        out[m] = {**t.to_dict(), "worse": worse}  # significance: correct_for_comparisons, over the whole table
    return out
