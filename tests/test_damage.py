"""The damage table is produced on the trained fixture, one row per factor, beside its baselines."""

from __future__ import annotations

import json

import pytest

from f5_parity import cli
from f5_parity.testing.faults import FAULTS


@pytest.mark.slow
def test_damage_table_has_a_row_per_fault_beside_the_baselines(tmp_path, asr_cache):
    out = tmp_path / "damage"
    assert cli.main(["damage", "--cases", "1", "--out", str(out), "--factor", "weights", "--factor", "arch",
                     "--factor", "mel"]) == 0
    table = json.loads((out / "damage.json").read_text())
    rows = {r["row"]: r for r in table["rows"]}
    assert {"ground truth", "trainer", "trainer (held-out)", "infer (clean)", "weights", "arch", "mel"} == set(rows)
    assert rows["ground truth"]["cer"] < 0.6  # Griffin-Lim of the true mel: Whisper understands it
    for name in ("trainer", "infer (clean)", "weights", "arch"):
        assert 0 <= rows[name]["cer"] <= 1 and rows[name]["n"] == 1
    assert rows["mel"]["cer"] is None and "Griffin-Lim" in rows["mel"]["note"]
    assert "| weights |" in (out / "damage.md").read_text()
    assert set(FAULTS) >= {"weights", "arch", "mel"}
