"""The Python API as users call it (no argparse, no shell): f5_parity.check / sweep / inspect on the tiny
real fixtures, a fault named through the API alone, and bad input raised as InputError, never an exit."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

import f5_parity
from f5_parity import InputError


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sides(fs) -> dict:
    return dict(train_config=str(fs.config), train_vocab=fs.vocab, infer_config=str(fs.config), infer_vocab=fs.vocab,
                vocoder="griffin-lim")


def test_help_shows_the_api_with_an_example():
    for name in ("check", "sweep", "inspect"):
        doc = getattr(f5_parity, name).__doc__
        assert doc and "Example::" in doc and f"f5_parity.{name}(" in doc, name
    assert "check" in dir(f5_parity) and f5_parity.check.__module__ == "f5_parity.api"
    with pytest.raises(AttributeError):
        f5_parity.no_such_function  # noqa: B018


def test_no_subpackage_shadows_an_api_function():
    """Importing a subpackage sets it as an attribute of f5_parity: one named like a function (a `sweep/` package)
    would replace f5_parity.sweep for every caller once anything imported it."""
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(f5_parity.__path__, "f5_parity."):
        if not module.name.startswith(("f5_parity.cli", "f5_parity.testing", "f5_parity.__main__")):
            importlib.import_module(module.name)
    for name in ("check", "sweep", "inspect", "fingerprint", "score", "export"):
        assert callable(getattr(f5_parity, name)) and getattr(f5_parity, name).__module__ == "f5_parity.api", name


def test_a_fault_is_diagnosed_through_the_api_alone(fixture_set, pt_cases, tmp_path):
    """The infer side loads the EMA weights where the trainer sampled the raw ones: culprit weights."""
    fs, case = fixture_set, pt_cases[0]
    before = _digest(fs.checkpoints["trainer"])
    report = f5_parity.check(fs.checkpoints["trainer"], **_sides(fs), ref_audio=case.wav, ref_text=case.text,
                             out=tmp_path / "faulty", mode="fast")
    assert not report.passed and report.verdict == "fail"
    assert report.culprits == ["weights"]
    data = json.loads((tmp_path / "faulty" / "run.json").read_text())
    assert data["culprits"] == ["weights"] and data["reproducibility"]["command"].startswith("f5_parity.check(")
    assert _digest(fs.checkpoints["trainer"]) == before
    # thresholds as Python values: a number per path, a dict per metric (the flags' "infer=0.9,trainer=0.8")
    clean = f5_parity.check(fs.checkpoints["trainer"], **_sides(fs), infer_ema=False, ref_audio=[case.wav],
                            ref_text=[case.text], out=tmp_path / "clean", max_wer={"infer": 0.9, "trainer": 0.8},
                            max_cer=0.7, max_gap={"cer": 0.1, "mcd": 0.5})
    assert clean.passed and clean.culprits == []
    gate = json.loads((tmp_path / "clean" / "run.json").read_text())["gate"]
    assert gate["thresholds"]["max_wer"] == {"*": 1.0, "infer": 0.9, "trainer": 0.8}
    assert gate["thresholds"]["max_cer"] == {"*": 0.7}
    assert gate["thresholds"]["max_gap"]["cer"] == 0.1 and gate["thresholds"]["max_gap"]["mcd"] == 0.5
    assert gate["thresholds"]["sources"]["max_wer"] == "flags"


def test_an_output_on_an_input_raises_input_error_and_writes_nothing(fixture_set, pt_cases, tmp_path):
    fs, case = fixture_set, pt_cases[0]
    ckpt = Path(shutil.copy(fs.checkpoints["trainer"], tmp_path / "model_300.pt"))
    before = _digest(ckpt)
    with pytest.raises(InputError) as err:
        f5_parity.check(ckpt, **_sides(fs), ref_audio=case.wav, ref_text=case.text, json=ckpt, out=tmp_path / "r")
    assert "is the input checkpoint" in err.value.problem and err.value.fix
    assert _digest(ckpt) == before and not (tmp_path / "r").exists()


def test_a_sweep_output_inside_the_run_folder_raises_input_error(fixture_set, tmp_path):
    """Issue 24: `sweep ckpts/run --junit ckpts/run/model_300.pt` wrote the XML over the checkpoint."""
    run = tmp_path / "ckpts" / "run"
    run.mkdir(parents=True)
    ckpt = Path(shutil.copy(fixture_set.checkpoints["trainer"], run / "model_300.pt"))
    before = _digest(ckpt)
    with pytest.raises(InputError, match="model_300.pt"):
        f5_parity.sweep(run, train_config=str(fixture_set.config), junit=ckpt, out=tmp_path / "sweep")
    with pytest.raises(InputError, match="inside the input folder RUN"):
        f5_parity.sweep(run, train_config=str(fixture_set.config), train_vocab=fixture_set.vocab, out=run)
    assert _digest(ckpt) == before and sorted(p.name for p in run.iterdir()) == ["model_300.pt"]
    assert not (tmp_path / "sweep").exists()


def test_inspect_returns_the_typed_report_and_refuses_a_missing_file(fixture_set, tmp_path):
    report = f5_parity.inspect(fixture_set.checkpoints["trainer"], config=fixture_set.config,
                               vocab=fixture_set.vocab, json=tmp_path / "i.json")
    assert type(report).__name__ == "InspectReport" and not report.failed
    assert {r.probe for r in report.results} >= {"ckpt.finite"}
    assert json.loads((tmp_path / "i.json").read_text())["results"]
    with pytest.raises(InputError, match="no such file"):
        f5_parity.inspect(tmp_path / "nope.pt")


def test_bad_values_raise_input_error_naming_the_keyword_before_anything_runs(fixture_set, tmp_path):
    """Called from Python, an error names the keyword the caller typed, never the command's flag."""
    ckpt = fixture_set.checkpoints["trainer"]
    cases = [(f5_parity.check, dict(seeds=0), "seeds=0: at least one seed is needed — give seeds=1 or more"),
             (f5_parity.check, dict(seed=-1), "seed=-1 is out of range — give seed a whole number"),
             (f5_parity.check, dict(nfe_step=0), "nfe_step=0 is out of range"),
             (f5_parity.check, dict(script_args=["--text", "Olá"]), "no infer_script — "),
             (f5_parity.check, dict(train_vocab=tmp_path / "nope.txt"), "train_vocab="),
             (f5_parity.sweep, dict(weights=["raw", "best"]), "weights='raw,best'"),
             (f5_parity.sweep, dict(gate="first"), "gate='first'")]
    for function, keywords, said in cases:
        with pytest.raises(InputError) as err:
            function(ckpt, out=tmp_path / "r", **keywords)
        assert said in str(err.value) and "--" not in str(err.value).replace("--text", ""), (keywords, str(err.value))
    with pytest.raises(InputError) as err:
        f5_parity.export(ckpt, ckpt)
    assert str(err.value).startswith("out ") and "is the checkpoint itself" in str(err.value)
    with pytest.raises(TypeError, match="max_werr"):  # a typo is Python's own error, naming the keyword
        f5_parity.check(ckpt, max_werr=0.5)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("function, command", [("check", "run"), ("sweep", "sweep"), ("inspect", "inspect"),
                                               ("fingerprint", "fingerprint"), ("score", "score"),
                                               ("export", "export")])
def test_every_option_of_a_command_is_a_typed_keyword_that_help_shows(function, command):
    """The API is not "the CLI as a function" taking **options: each flag is a keyword of the same name, with a
    type, listed by help() (what an editor completes)."""
    import inspect as pyinspect
    import pydoc

    from f5_parity.cli.main import build_parser

    python_cannot = {"sweep": {"launch"}}.get(function, set())  # torchrun restarts the command line
    parser = build_parser().subcommands[command]
    options = {a.dest for a in parser._actions if a.dest not in ("help", "debug")} - python_cannot
    if function in ("check", "sweep"):
        options.add("script_args")  # the words after `--` (cli/main.py), not a flag of their own
    parameters = pyinspect.signature(getattr(f5_parity, function)).parameters
    assert set(parameters) == options, (function, set(parameters) ^ options)
    assert all(p.kind is not p.VAR_KEYWORD and p.annotation is not p.empty for p in parameters.values())
    shown = pydoc.render_doc(getattr(f5_parity, function), renderer=pydoc.plaintext)
    assert all(f"{name}:" in shown for name in parameters), function


@pytest.mark.parametrize("command", ["run", "sweep", "inspect", "fingerprint", "score", "damage", "demo"])
def test_a_request_has_the_command_lines_defaults(command):
    """The API (a request made from arguments) and the shell (from flags) run with the same defaults."""
    from f5_parity.cli.main import build_parser
    from f5_parity.engine.requests import REQUESTS

    parser = build_parser().subcommands[command]
    cls = REQUESTS[command]
    dests = {a.dest: a.default for a in parser._actions if a.dest not in ("help", "debug")}
    checked = 0
    for f in fields(cls):
        if f.name not in dests or f.default is MISSING or dests[f.name] in (None, argparse.SUPPRESS):
            continue
        assert dests[f.name] == f.default, f"{command} --{f.name.replace('_', '-')}"
        checked += 1
    if command != "inspect":  # inspect's flags all default to None
        assert checked >= 2


def test_exit_codes_are_an_int_enum_and_the_old_names_stay(tmp_path, capsys):
    from f5_parity import ExitCode
    from f5_parity.cli.main import EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PASS, main

    assert [(c.name, int(c)) for c in ExitCode] == [("OK", 0), ("FAILED", 1), ("INPUT_ERROR", 2),
                                                      ("INTERNAL_ERROR", 3), ("INTERRUPTED", 130)]
    assert (EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED) == tuple(ExitCode)
    rc = main(["inspect", str(tmp_path / "nope.pt")])
    assert rc is ExitCode.INPUT_ERROR and "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("function, command", [("check", "run"), ("sweep", "sweep"), ("inspect", "inspect"),
                                               ("fingerprint", "fingerprint"), ("score", "score"),
                                               ("export", "export")])
def test_every_keyword_default_of_the_api_is_its_commands(function, command):
    """f5_parity.sweep once defaulted to seeds=1 while `parity-check sweep` defaults to 3: the same sweep answered
    differently from Python. Every keyword the function and its command share has one default."""
    import inspect as pyinspect

    import f5_parity
    from f5_parity.cli.main import build_parser

    parser = build_parser().subcommands[command]
    flags: dict[str, list] = {}
    for a in parser._actions:
        flags.setdefault(a.dest, []).append(a.default)
    def nothing(value):  # an unset flag and an empty keyword mean the same: none given
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            return ",".join(value)  # weights=("raw", "ema") is --weights raw,ema
        return None if value in (None, (), []) else value

    shared = 0
    for name, p in pyinspect.signature(getattr(f5_parity, function)).parameters.items():
        if p.default is pyinspect.Parameter.empty or name not in flags:
            continue
        defaults = [nothing(d) for d in flags[name] if d is not argparse.SUPPRESS]
        assert all(d == nothing(p.default) for d in defaults), \
            f"f5_parity.{function}({name}={p.default!r}) vs parity-check {command}: {defaults}"
        shared += 1
    assert shared >= (1 if function in ("check", "sweep", "export") else 0)
