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

from f5_parity.compare import StageComparison
from f5_parity.parity.result import GateCheck, GateResult, Reproducibility, RunReport, RunWarning
from f5_parity.render.markdown import render_report
from f5_parity.render.terminal import render_run_summary

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


def test_gate_is_typed_and_round_trips_its_optional_keys():
    gate = load("run-clean").gate
    assert isinstance(gate, GateResult) and all(isinstance(c, GateCheck) for c in gate.checks)
    assert gate.passed and not gate.failures
    seeded = {"name": "cer_gap", "path": "infer", "case": None, "value": 0.31, "threshold": 0.2, "op": "<=",
              "passed": False, "against": "trainer", "seeds": 3, "interval": [0.2, 0.4], "units": 6,
              "p_value": 1 / 64, "beyond_noise": True}
    assert list(GateCheck.from_dict(seeded).to_dict().items()) == list(seeded.items())


# --- the terminal: calm and true (issue 24 item 5) ---------------------------------------------------------

def terminal(report: RunReport) -> str:
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    render_run_summary(report, console)
    return console.export_text()


def with_failed_check(report: RunReport, **check) -> RunReport:
    report.gate.checks.append(GateCheck.from_dict({"path": None, "case": None, "passed": False, **check}))
    report.gate.passed = False
    report.verdict = "fail"
    return report


def test_a_failed_check_reads_as_what_failed():
    report = with_failed_check(load("run-clean"), name="wer", value=1.56, threshold=1.0, op="<=")
    text = terminal(report)
    assert "wer 1.56 > 1.0" in text
    assert "<=" not in text.split("failed checks:")[1].splitlines()[0]


def test_a_failed_parity_check_does_not_read_as_a_statement():
    report = load("run-v1")
    text = terminal(report)
    assert "parity fail" in text and "parity fail == pass" not in text


def test_nothing_compared_prints_no_empty_table_and_no_none():
    report = load("run-v1")  # the infer path failed to load: every case has no stages
    report.environment = {"summary": "f5-tts 1.1.22 (release)", "trainer_side": "mirror", "f5_tts": {"trusted": True}}
    text = terminal(report)
    assert "None" not in text
    assert "stages, case" not in text  # no table titled for a case that has no rows
    assert "case ptbr_00: nothing compared: the infer path failed" in text
    assert text.splitlines()[0].startswith("f5-tts: f5-tts 1.1.22")  # the README's promised first line
    md = render_report(report)
    assert "Nothing compared: the infer path failed" in md and "| stage | ok |" not in md


def test_culprit_without_a_measured_divergence_prints_no_none():
    report = load("run-clean")
    factor = report.factors["vocab"]
    factor.culprit, factor.fix = True, "use it"
    factor.effect = {"buildable": True, "first_divergence": None, "velocity": 0.2}
    report.culprits = ["vocab"]
    text = terminal(report)
    assert "None" not in text and "no stage diverges" in text and "rel L2 0.2" in text


def test_markup_in_values_is_printed_as_written_and_rendered_in_the_tool_lines():
    report = load("run-clean")
    report.warnings = [RunWarning("text", "ptbr_00", "a [bold]literal[/] tag")]
    report.notes = ["note with [red]brackets[/red]"]
    text = terminal(report)
    assert "[text] ptbr_00: a [bold]literal[/] tag" in text
    assert "note with [red]brackets[/red]" in text
    assert "[bold" not in text.replace("[bold]literal", "")  # the tool's own markup is rendered, never printed
    assert "[/]" not in text.replace("literal[/] tag", "")


def test_f5_tts_progress_bars_stay_out_of_the_display(capfd):
    """infer_batch_process draws its bar with utils_infer's own tqdm; inside quiet() (every f5-tts call and every
    user wrapper/script runs in it) neither the bar nor a print reaches the terminal."""
    from f5_tts.infer import utils_infer

    from f5_parity.paths.stages import quiet

    with quiet():
        for _ in utils_infer.tqdm.tqdm(range(2)):
            print("f5-tts says hello")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_first_line_of_a_logged_run_is_the_f5_tts_line():
    """A run whose output goes to a log or a pipe: the progress display leaves no line behind, so the first
    line is the f5-tts version line (README: 'the terminal's first line')."""
    import io

    from rich.console import Console

    from f5_parity.render.progress import progress_display

    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False)  # not a terminal, as in CI
    with progress_display(console) as report:
        report("comparing stages and isolating", None)
        report("generating", 0.5)
    run = load("run-clean")
    run.environment = {"summary": "f5-tts 1.1.22: code matches release 1.1.22", "trainer_side": "mirror",
                       "f5_tts": {"trusted": True}}
    render_run_summary(run, console)
    assert out.getvalue().splitlines()[0] == "f5-tts: f5-tts 1.1.22: code matches release 1.1.22 | trainer side: mirror"


def test_checkpoint_is_typed_and_takes_its_hash_from_reproducibility_when_missing():
    from f5_parity.parity.result import CheckpointRef
    from f5_parity.render.markdown import checkpoint_info

    run = load("run-clean")
    assert isinstance(run.checkpoint, CheckpointRef) and run.checkpoint.name == "model_ptbr_tiny"
    run.checkpoint.sha256 = None
    assert checkpoint_info(run).sha256 == run.reproducibility.checkpoint_sha256


def test_factors_are_typed():
    from f5_parity.parity.result import Factor

    run = load("run-v1")
    assert all(isinstance(f, Factor) for f in run.factors.values())
    arch = run.factors["arch"]
    assert arch.culprit and arch.fix and arch.effect["buildable"] is False and arch.differs_after_alignment is None


def test_by_design_differences_are_typed_and_print_no_none():
    from f5_parity.parity.result import ByDesignDifference

    run = load("run-clean")
    assert run.by_design and all(isinstance(b, ByDesignDifference) for b in run.by_design)
    run.by_design[0].effect["first_divergence"] = None  # measured alone, it moves no stage
    text = terminal(run)
    assert "None" not in text and "-> shows at no stage" in text
    assert "ref-audio.target_rms: unset vs 0.1 -> first shows at cond_mel" in text


@pytest.mark.parametrize("name", ["run-clean", "run-v1"])
def test_run_probes_on_a_typed_report_give_json_evidence(name):
    """report.md and the JUnit file dump a probe's evidence with json.dumps: the run probes must put the leaves'
    JSON in it, not the dataclasses (an inf rel L2 must stay "inf", not become Infinity)."""
    from f5_parity.probe import ProbeContext, discover, run_group

    run = load(name)
    run.stages.setdefault("ptbr_00", []).append(StageComparison("velocity", False, "rel_l2<=tol", 1e-3,
                                                                rel_l2=float("inf")))
    results = run_group("run", ProbeContext(resources={"run": run}), catalog=discover())
    assert {r.probe for r in results} >= {"run.stage_parity", "run.pathologies", "run.isolation"}
    for r in results:
        text = json.dumps(r.evidence, allow_nan=False)  # raises on a dataclass, an inf or a nan
        assert "ByDesign" not in text


@pytest.mark.parametrize("name", RUN_GOLDENS)
def test_every_renderer_reads_the_typed_golden_reports(name):
    from f5_parity.render.junit import build_junit
    from f5_parity.render.markdown import github_summary

    run = load(name)
    md = render_report(run)
    assert md.startswith(f"# Parity report: {run.checkpoint.name}")
    # no Python None leaks into the prose and tables above the probes' JSON ("None: no factor ..." is a word)
    assert "None" not in md.split("## Probes")[0].replace("None: no factor", "").replace("None isolated", "")
    assert build_junit(run).getroot().tag == "testsuites"
    assert github_summary(run).startswith("### parity-check:")
    assert "None" not in terminal(run)


def test_warnings_isolation_and_reproducibility_are_typed():
    """The renderers and probes read attributes, never keys: a report loaded from run.json carries RunWarning
    and Isolation objects (with their trials), and writes them back unchanged (the round trip above)."""
    from f5_parity.parity.isolate import Isolation, Outcome

    report = RunReport.from_json({**golden("demo-fast"), "seconds": 1.5})
    assert report.warnings and all(isinstance(w, RunWarning) for w in report.warnings)
    assert isinstance(report.isolation, Isolation) and report.isolation.tests_run == 6
    assert report.isolation.culprit_sets == [["vocab"], ["weights"], ["arch"]]
    assert all(isinstance(t.outcome, Outcome) for t in report.isolation.trials)
    assert RunReport.from_json({**golden("demo-fast"), "seconds": 1.5, "isolation": {}}).to_json()["isolation"] == {}
    assert isinstance(report.reproducibility, Reproducibility) and report.reproducibility.seed == 0
    assert report.reproducibility.versions["f5-tts"] == golden("demo-fast")["reproducibility"]["versions"]["f5-tts"]
