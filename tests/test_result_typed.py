"""RunReport typed to the leaves the renderers read, with one JSON codec (issue 24 item 3).

The golden run.json files (tests/golden/, written by real runs of the CLI) are read back into a RunReport
and written again: the same bytes, so reading a report back loses nothing and run.json's layout is kept.
The leaves are the dataclasses, not dicts, so a renderer reads attributes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_normalize import normalize

from f5_parity.parity.compare import StageComparison
from f5_parity.parity.result import RunReport

GOLDEN = Path(__file__).parent / "golden"
RUN_GOLDENS = ["run-clean", "run-v1", "demo-fast"]


def golden(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def load(name: str) -> RunReport:
    return RunReport.from_json({**golden(name), "seconds": 1.5})


def dumped(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("name", RUN_GOLDENS)
def test_golden_run_json_round_trips_byte_for_byte(name):
    data = golden(name)  # normalized: the wall-clock keys (seconds, duration_s, ...) are dropped
    again = RunReport.from_json({**json.loads(json.dumps(data)), "seconds": 1.5}).to_json()
    assert again["seconds"] == 1.5
    assert dumped(normalize(again, {})) == dumped(data)


def test_stages_are_typed():
    report = load("run-clean")
    comps = report.stages["ptbr_00"]
    assert comps and all(isinstance(c, StageComparison) for c in comps)
    cond = next(c for c in comps if c.stage == "cond_mel")
    assert cond.snr_db == float("inf")  # JSON's "inf" string is a number again
    assert cond.a is not None and cond.a.shape == [1, 317, 100]
    assert load("run-v1").stages == {"ptbr_00": []}  # nothing compared
