"""The damage table on the trained fixture: a row per fault beside its baselines, and the acoustic
metrics rank faults the ASR cannot (the fixture is not intelligible: every path scores CER 0.8-1.0)."""

from __future__ import annotations

import json

import pytest

from f5_parity import cli
from f5_parity.demo.faults import FAULTS


@pytest.mark.slow
def test_damage_table_has_a_row_per_fault_beside_the_baselines(tmp_path, asr_cache):
    out = tmp_path / "damage"
    assert cli.main(["damage", "--cases", "1", "--seeds", "1", "--out", str(out), "--factor", "weights",
                     "--factor", "arch", "--factor", "mel"]) == 0
    table = json.loads((out / "damage.json").read_text())
    rows = {r["row"]: r for r in table["rows"]}
    assert {"ground truth", "trainer", "trainer (held-out)", "infer (clean)", "weights", "arch", "mel"} == set(rows)
    assert rows["ground truth"]["cer"] < 0.6  # Griffin-Lim of the true mel: Whisper understands it
    for name in ("trainer", "infer (clean)", "weights", "arch"):
        assert 0 <= rows[name]["cer"] <= 1 and rows[name]["n"] == 1
        assert rows[name]["intervals"]["mcd"]["mean"] > rows["ground truth"]["intervals"]["mcd"]["mean"]
    assert rows["mel"]["cer"] is None and "Griffin-Lim" in rows["mel"]["note"]
    assert "| weights |" in (out / "damage.md").read_text()
    assert set(FAULTS) >= {"weights", "arch", "mel"}
    assert table["acoustic"]["speaker_similarity"]["tools"][0]["version"] == "0.1.4"


@pytest.fixture(scope="module")
def acoustic_damage(tmp_path_factory):
    """arch and weights faults over 2 cases x 3 seeds, acoustic metrics only (no ASR: it is the cost). The vocab
    fault is left out here: on this young model it moves no metric beyond the seed noise (measured 2026-12-05:
    p 0.20 MCD, 0.20 log-mel, 0.41 speaker similarity, reports/damage-fixture/), so it only added a fifth of the
    table's cost; the demo's full mode names it (tests/test_cli_e2e.py)."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.demo.damage import damage_table
    from f5_parity.demo.fixture import fixture_dir

    tmp = tmp_path_factory.mktemp("acoustic-damage")
    fx = fixture_dir()
    ckpt, cfg, vocab = fx / "model_ptbr_tiny.pt", fx / "F5TTS_ptbr_tiny.yaml", fx / "vocab.txt"
    train = trainer_spec(ckpt, train_config=cfg, train_vocab=vocab, vocoder_path=None)
    clean = infer_spec(ckpt, infer_config=cfg, infer_vocab=vocab, use_ema=False, vocoder_path=None)
    cases = builtin_cases(tmp / "cases", 2)
    return damage_table(train, clean, cases, tmp / "out", None, seeds=3, factors=["arch", "weights"],
                        trainer_rows=False)


@pytest.mark.slow
def test_acoustic_metrics_rank_arch_worst_and_find_it_beyond_the_clean_infer_path(acoustic_damage):
    rows = {r.row: r for r in acoustic_damage.rows}
    clean = rows["infer (clean)"]
    assert clean.seeds == 3 and clean.n == 6 and clean.cer is None  # no ASR here
    # the truth through Griffin-Lim is far closer to the truth than any generation of this young model
    assert rows["ground truth"].mean("mcd") < 0.5 * clean.mean("mcd")
    r = rows["arch"]
    significant = [m for m in ("mcd", "logmel", "speaker_similarity") if r.worse_than_clean(m)]
    assert significant, {m: r.versus_clean[m]["p_value"] for m in r.versus_clean}
    # The weights fault is measured, paired, but no longer claimed on these 6 pairs: under Holm-Bonferroni over
    # every comparison of the table (issue 23 item 6) none of its metrics stays below 0.05 here (measured
    # 2026-12-05, unadjusted p: 0.63 MCD, 0.12 log-mel). The 24-pair table (8 cases) is where it is claimed.
    assert rows["weights"].versus_clean["logmel"]["n"] == 6 and rows["weights"].mean("logmel") is not None
    assert rows["arch"].worse_than_clean("logmel")  # the flags change F5's own feature the most
    ranked = [r.row for r in acoustic_damage.ranked()]
    assert set(ranked) == {"arch", "weights"} and ranked[0] == "arch"
    md = acoustic_damage.markdown()
    assert "**" in md and "p < 0.05" in md and "3 seeds" in md


@pytest.mark.slow
def test_seed_interval_covers_repeated_runs(acoustic_damage, tmp_path):
    """The 95 % interval over seeds 0-2 holds the mean of a repeated run on seeds 3-5."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.paths.spec import infer_spec
    from f5_parity.scoring.acoustic import AcousticScorer
    from f5_parity.demo.damage import generate_infer
    from f5_parity.demo.fixture import fixture_dir

    fx = fixture_dir()
    clean = infer_spec(fx / "model_ptbr_tiny.pt", infer_config=fx / "F5TTS_ptbr_tiny.yaml",
                       infer_vocab=fx / "vocab.txt", use_ema=False, vocoder_path=None)
    cases = builtin_cases(tmp_path / "cases", 2)
    interval = {r.row: r for r in acoustic_damage.rows}["infer (clean)"].intervals["mcd"]
    scorer = AcousticScorer()

    def mcd(seed: int, tag: str) -> float:
        wavs = generate_infer(clean, cases, tmp_path / "wavs", f"{tag}{seed}", seed, "cpu")
        values = [scorer.score(w, voice=c.ref_audio, truth=c.gen_audio, truth_name="held-out").mcd
                  for (w, _), c in zip(wavs, cases)]
        return sum(values) / len(values)

    repeated = [mcd(seed, "s") for seed in (3, 4, 5)]  # another run of 3 seeds
    assert mcd(3, "again") == repeated[0]  # the same seed gives the same numbers
    assert interval["lo"] <= sum(repeated) / 3 <= interval["hi"], (repeated, interval)
    assert interval["n"] == 3 and interval["lo"] < interval["mean"] < interval["hi"]


def test_significance_is_corrected_for_the_tables_comparisons():
    """The stored 8-fault table: 40 (fault, metric) paired tests on 6 pairs each. Uncorrected, eight of them
    fall below 0.05; Holm-Bonferroni keeps the two log-mel rows (arch, ref-audio) and drops, e.g., the
    weights fault's speaker similarity (p 0.0087 alone, 0.31 among 40). Re-derived from the JSON's own p-values."""
    from pathlib import Path

    from f5_parity.demo.damage import DamageTable

    data = json.loads((Path(__file__).resolve().parents[1] / "reports/damage-fixture/all-factors-2cases-3seeds.json")
                      .read_text())
    table = DamageTable.from_dict(data)
    table.correct_for_comparisons()
    tests = [(r.row, m, t) for r in table.rows for m, t in r.versus_clean.items() if t.get("p_value") is not None]
    assert len(tests) == 40 == table.to_dict()["comparisons"]
    raw = {(row, m) for row, m, t in tests if t["p_value"] < 0.05 and t["worse"] > 0}
    kept = {(r.row, m) for r in table.rows for m in r.versus_clean if r.worse_than_clean(m)}
    assert kept == {("arch", "logmel"), ("ref-audio", "logmel")} and kept < raw
    assert ("weights", "speaker_similarity") in raw - kept
    assert all(t["p_holm"] >= t["p_value"] for _, _, t in tests)
    assert "Holm-Bonferroni" in table.markdown() and "Holm-Bonferroni" in table.to_dict()["test"]
    assert data.get("comparisons") == 40  # the stored file carries the corrected verdicts too
