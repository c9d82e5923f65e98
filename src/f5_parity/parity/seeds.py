"""Full mode over N noise seeds: every generated path scored by the ASR and by the acoustic metrics,
each number reported as a mean with its 95 % interval, and the infer-minus-trainer gaps as paired
differences over the same seeds (what the gate judges, so a CI run does not flap on one noise draw).

The acoustic truth of each wav:
  reference, copy-synthesis, griffin-lim, trainer, infer-copy   the reference clip (they say its text)
  trainer-heldout, infer                                         the case's held-out clip (its gen_audio),
                                                                  when the case has one; else no truth
Speaker similarity is always to the reference clip (the voice the generation should keep).
Baselines do not depend on the noise: they are scored once, from the first seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from f5_parity.parity.gate import GAP_BASELINE, GAP_PATHS, GAP_RULE
from f5_parity.parity.pathnames import BASELINE_PATHS, GENERATED_PATHS
from f5_parity.parity.scores import AcousticRow, AcousticScores, Interval, SeedGap, SeedSpread

ASR_METRICS = ("wer", "cer", "cer_capped", "similarity")
ACOUSTIC_METRICS = ("mcd", "logmel", "speaker_similarity")
SEED_METRICS = ASR_METRICS + ACOUSTIC_METRICS
HIGHER_IS_BETTER = {"similarity", "speaker_similarity"}
HELD_OUT_PATHS = ("trainer-heldout", "infer")


def seed_list(first: int, count: int) -> list[int]:
    return [first + k for k in range(max(1, int(count)))]


def truth_of(case, path: str) -> tuple[Path | None, str | None]:
    if path in HELD_OUT_PATHS:
        gen_audio = getattr(case, "gen_audio", None)
        return (Path(gen_audio), "held-out") if gen_audio else (None, None)
    return Path(case.ref_audio), "reference"


def generate_extra_seeds(session, opts, out: Path, say: Callable[..., None]) -> dict[int, list]:
    """The generated paths of every case for the seeds after the first, under out/seeds/seed-N/wavs/."""
    import dataclasses

    from f5_parity.parity.generate import InferRunner, generate_case

    first = opts.infer_runner
    wavs: dict[int, list] = {}
    for seed in seed_list(opts.seed, opts.seeds)[1:]:
        # a runner of the same kind whose observations are not the report's (those are the first seed's)
        runner = dataclasses.replace(first, observed=[]) if first is not None else InferRunner()
        infer = session.infer.with_value("sampler", seed=seed)  # infer_cli's wiring seeds from its spec
        for case in session.cases:
            say(f"generating {case.name} with seed {seed}", None)
            wavs.setdefault(seed, []).extend(
                w for w in generate_case(session.train, infer, case, out / "seeds" / f"seed-{seed}",
                                         session.runner.pool, seed, opts.device, runner,
                                         cross_paths=getattr(opts, "cross_paths", False))
                if w.path in GENERATED_PATHS)
    return wavs


def score_seeds(session, opts, out: Path, first_wavs: list, first_rows: list, asr,
                say: Callable[..., None]) -> tuple[AcousticScores, SeedSpread]:
    """The acoustic scores (every wav of every seed against its truth) and the spread over seeds (intervals,
    gaps). `first_rows` are the first seed's ScoreRows: their transcripts are reused, not re-transcribed."""
    from f5_parity.scoring.acoustic import AcousticScorer, describe
    from f5_parity.scoring.metrics import score_text, score_wav

    cases = {c.name: c for c in session.cases}
    seeds = seed_list(opts.seed, getattr(opts, "seeds", 1))
    extra = generate_extra_seeds(session, opts, out, say) if len(seeds) > 1 else {}
    scorer = AcousticScorer()
    by_seed: list[dict[str, Any]] = []
    asr_first = {(r.case, r.path): r for r in first_rows}
    items = [(seeds[0], w) for w in first_wavs] + [(s, w) for s in seeds[1:] for w in extra.get(s, [])]
    for n, (seed, w) in enumerate(items):
        say(f"acoustic scores: {w.case} {w.path} seed {seed}", n / max(1, len(items)))
        case = cases[w.case]
        if seed == seeds[0] and (w.case, w.path) in asr_first:
            r = asr_first[(w.case, w.path)]  # transcribed already: rebuild the score from its text
            utt = score_text(r.expected, r.hypothesis)
        else:
            utt = score_wav(w.wav, w.expected, asr)
        truth, truth_name = truth_of(case, w.path)
        acoustic = scorer.score(w.wav, voice=case.ref_audio, truth=truth, truth_name=truth_name)
        by_seed.append({"case": w.case, "path": w.path, "seed": seed, "utterance": utt,
                        **acoustic.to_dict(), "wav": str(Path(w.wav).relative_to(out))})
    paths, gaps = _seed_statistics(by_seed, seeds)
    rows = [AcousticRow.from_dict({k: v for k, v in r.items() if k != "utterance"} | _asr_values(r["utterance"]))
            for r in by_seed]
    acoustic = AcousticScores(tools=describe(), rows=rows, voice="reference clip",
                              truth={p: ("held-out clip of the case (gen_audio), when it has one"
                                         if p in HELD_OUT_PATHS else "reference clip")
                                     for p in BASELINE_PATHS + GENERATED_PATHS})
    spread = SeedSpread(
        seeds=seeds, n_seeds=len(seeds), confidence=0.95,
        paths={p: {m: Interval.from_dict(i) for m, i in ms.items()} for p, ms in paths.items()},
        gaps={p: {m: SeedGap.from_dict(g) for m, g in ms.items()} for p, ms in gaps.items()},
        interval="Student-t 95 % interval over per-seed values (each pooled over cases); a gap's over its "
                 "(case, seed) units",
        gap_rule=GAP_RULE)
    return acoustic, spread


def _asr_values(utt) -> dict[str, Any]:
    return {"wer": utt.wer, "cer": utt.cer, "cer_capped": utt.cer_capped, "similarity": utt.similarity,
            "hypothesis": utt.hypothesis}


def _per_seed(by_seed: list[dict[str, Any]], path: str, seeds: list[int]) -> dict[str, list[float | None]]:
    """Each metric of one path per seed, pooled over cases (ASR as pool() does; acoustic as the case mean): one
    slot per seed of `seeds`, None where the path has no row for it (it failed there), so two paths' lists pair
    by seed id and a seed missing on either side drops out of the pair (before, the lists were shortened and
    paired by position: a missing seed paired seed 2 of one path with seed 1 of the other)."""
    from f5_parity.scoring.metrics import pool

    out: dict[str, list[float | None]] = {m: [] for m in SEED_METRICS}
    for seed in seeds:
        rows = [r for r in by_seed if r["path"] == path and r["seed"] == seed]
        if not rows:
            for m in SEED_METRICS:
                out[m].append(None)
            continue
        p = pool([r["utterance"] for r in rows])
        for m, v in (("wer", p.wer_pooled), ("cer", p.cer_pooled), ("cer_capped", p.cer_mean_capped),
                     ("similarity", p.similarity_mean)):
            out[m].append(v)
        for m in ACOUSTIC_METRICS:
            vals = [r[m] for r in rows if r[m] is not None]
            out[m].append(sum(vals) / len(vals) if vals else None)
    return out


def _unit_values(by_seed: list[dict[str, Any]], path: str, metric: str) -> dict[tuple[str, int], float]:
    """(case, seed) -> one wav's metric (ASR from its transcript, acoustic from its scores)."""
    out = {}
    for r in by_seed:
        if r["path"] != path:
            continue
        u = r["utterance"]
        v = {"wer": u.wer, "cer": u.cer, "cer_capped": u.cer_capped, "similarity": u.similarity}.get(metric) \
            if metric in ASR_METRICS else r.get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[(r["case"], r["seed"])] = float(v)
    return out


def _seed_statistics(by_seed: list[dict[str, Any]], seeds: list[int]):
    """Each path over the seeds (pooled over cases per seed), and each gap the gate judges, per (case, seed) unit
    under the gate's one rule (parity.gate.GAP_RULE): a unit missing on either side is out of both."""
    from f5_parity.parity.gate import judge_gap
    from f5_parity.scoring.stats import interval

    present = list(dict.fromkeys(r["path"] for r in by_seed))
    per_path = {p: _per_seed(by_seed, p, seeds) for p in present}
    paths = {p: {m: {**interval(v), "per_seed": v} for m, v in metrics.items() if any(x is not None for x in v)}
             for p, metrics in per_path.items()}
    gaps: dict[str, dict[str, Any]] = {}
    for path in GAP_PATHS:
        base = next((b for b in GAP_BASELINE[path] if b in per_path), None)
        if path not in per_path or base is None:
            continue
        for m in SEED_METRICS:
            a, b = _unit_values(by_seed, base, m), _unit_values(by_seed, path, m)
            if not a or not b:
                continue
            # "worse on the infer side" is positive for every metric
            units = {k: (a[k] - b[k]) if m in HIGHER_IS_BETTER else (b[k] - a[k]) for k in sorted(a.keys() & b.keys())}
            judged = judge_gap(list(units.values()), math.inf)
            per_seed = [[g for (_, s), g in units.items() if s == seed] for seed in seeds]
            gaps.setdefault(path, {})[m] = {
                "against": base, "gap": judged.mean, "interval": interval(list(units.values())),
                "p_value": judged.p_value, "beyond_noise": judged.beyond_noise, "n": judged.n,
                "per_seed": [sum(g) / len(g) if g else None for g in per_seed],
                "units": [{"case": c, "seed": s, "gap": g} for (c, s), g in units.items()]}
            cases = sorted({c for c, _ in a.keys() | b.keys()})
            dropped = [[c, s] for c in cases for s in seeds if (c, s) not in units]
            if dropped:  # a (case, seed) one of the two paths has no value for: out of the pair, said
                gaps[path][m]["dropped_units"] = dropped
                gaps[path][m]["dropped_seeds"] = [s for s, g in zip(seeds, per_seed) if not g]
    return paths, gaps
