"""The README and the --help texts state what the code does (issue 24 item 5, issue 23 item 6).

Every default a user reads (the README's Defaults table, "(default N)" in a help string) is compared with the
value the code really uses: the argparse parser built through the real CLI entry, or the gate's thresholds
(parity/gate.py), whose defaults are not parser defaults (flags > parity.toml > pyproject.toml > defaults, so
the gate flags parse to None). What the README says the gap defaults catch is rendered from the measured file the
defaults cite (reports/bench/gate_power.json). Changing a default without the README or the help, or the other way round,
fails here.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Gate flags: their defaults live in parity/gate.py (Thresholds), not in the parser.
GATE_FLAGS = {"--max-wer": "max_wer", "--max-cer": "max_cer", "--min-similarity": "min_similarity",
              "--max-gap": "max_gap", "--max-mcd": "max_mcd", "--min-speaker-similarity": "min_speaker_similarity"}


@pytest.fixture(scope="module")
def parser():
    from f5_parity.cli.main import build_parser

    return build_parser()


def _sub(parser, command: str) -> argparse.ArgumentParser:
    return parser.subcommands[command]


def _action(parser, command: str, flag: str) -> argparse.Action:
    return _sub(parser, command)._option_string_actions[flag]


def _gate_default(flag: str):
    """What the gate uses for a gate flag that is not given: a number (every generated path), a gap table,
    or None (not gated)."""
    from f5_parity.parity.gate import ALL_GENERATED, Thresholds

    value = getattr(Thresholds(), GATE_FLAGS[flag])
    if flag == "--max-gap":
        return dict(value)
    if not value:
        return None
    assert set(value) == {ALL_GENERATED}, (flag, value)  # a per-path default would need its own README row
    return value[ALL_GENERATED]


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _same(stated: str, actual) -> bool:
    """A stated default equals the real one: numerically where both are numbers, else as text."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool) and _number(stated) is not None:
        return _number(stated) == float(actual)
    return stated == str(actual)


def _gap_table(text: str) -> dict[str, float]:
    """'cer=0.2, similarity=20, ...' -> {'cer': 0.2, ...}"""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in pairs)}


def _readme_lines() -> list[str]:
    return README.read_text(encoding="utf-8").splitlines()


def _readme_table(heading: str) -> list[list[str]]:
    """The body rows of the first table under a `## heading`, as lists of cell texts."""
    lines = _readme_lines()
    start = lines.index(f"## {heading}")
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, f"no table under ## {heading}"
    return rows[2:]  # header and separator rows


# --- the README is a front door ---------------------------------------------------------------------------


def test_readme_is_short_and_starts_with_what_users_type():
    lines = _readme_lines()
    assert len(lines) <= 200, len(lines)
    first_run = next(i for i, line in enumerate(lines) if line.lstrip().startswith("parity-check run "))
    assert first_run < 40, f"the first `parity-check run` example is at line {first_run + 1}"


def test_readme_commands_use_only_flags_the_parser_has(parser):
    """Every `parity-check CMD ... --flag` in the README's code blocks names a flag CMD defines (the arguments
    after a bare `--` are the user's script's own)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" # ")[0].strip()
            if line.startswith("parity-check "):
                commands.append(shlex.split(line, comments=True))
    assert len(commands) >= 6, commands
    seen = set()
    for words in commands:
        command = words[1]
        assert command in parser.subcommands, words
        seen.add(command)
        args = words[2:words.index("--")] if "--" in words else words[2:]
        known = _sub(parser, command)._option_string_actions
        unknown = [w.split("=")[0] for w in args if w.startswith("--") and w.split("=")[0] not in known]
        assert not unknown, (command, unknown)
    assert {"run", "sweep", "inspect"} <= seen


# --- defaults: README table, help strings, parser, gate ---------------------------------------------------


def test_readme_defaults_table_equals_the_parser_and_the_gate(parser):
    checked = set()
    for flags_cell, value_cell in _readme_table("Defaults"):
        value = value_cell.strip("`")
        for item in re.findall(r"`([^`]+)`", flags_cell):
            words = item.split()
            if len(words) == 2:  # `CMD --flag`: that subcommand's parser default
                command, flag = words
                actual = _action(parser, command, flag).default
                assert _same(value, actual), f"README: {item} defaults to {value!r}; the parser: {actual!r}"
            else:  # `--flag`: a gate threshold
                (flag,) = words
                actual = _gate_default(flag)
                if flag == "--max-gap":
                    assert _gap_table(value) == actual, (value, actual)
                elif actual is None:
                    assert value == "not gated", (flag, value)
                else:
                    assert _same(value, actual), f"README: {flag} defaults to {value!r}; the gate: {actual!r}"
            checked.add(item)
    # the statements issue 24 names must be there, not silently dropped from the table
    assert {"demo --mode", "run --mode", "run --seeds", "sweep --seeds", "--max-wer", "--max-cer",
            "--min-similarity", "--max-gap"} <= checked, checked


_STATED = re.compile(r"default[:]?\s+([^();]+?)\s*(?:\)|;|$)")
_CHOICE = re.compile(r"([\w-]+) \(default\)")


def _help_text(action: argparse.Action) -> str:
    return (action.help % {**vars(action), "prog": ""}) if "%(" in action.help else action.help.replace("%%", "%")


def test_help_strings_state_the_real_defaults(parser):
    """Every "(default N)", "...; default N)" and "CHOICE (default)" in a help string equals what the code uses."""
    checked = []
    for command, sub in parser.subcommands.items():
        for action in sub._actions:
            if not action.help or action.help == argparse.SUPPRESS or not action.option_strings:
                continue
            help_text = _help_text(action)
            flag = action.option_strings[-1]
            for choice in _CHOICE.findall(help_text):
                assert choice == action.default, f"{command} {flag}: help says {choice!r}, default {action.default!r}"
                checked.append((command, flag))
            match = _STATED.search(help_text)
            if not match:
                continue
            stated = match.group(1).strip()
            if flag in GATE_FLAGS:
                actual = _gate_default(flag)
                if flag == "--max-gap":
                    assert _gap_table(stated) == actual, (command, stated, actual)
                elif actual is None:
                    assert stated.startswith("not gated"), (command, flag, stated)
                else:
                    assert _same(stated, actual), f"{command} {flag}: help says {stated!r}, the gate uses {actual!r}"
                checked.append((command, flag))
            elif action.default is not None and not isinstance(action.default, bool):
                assert _same(stated, action.default), f"{command} {flag}: help says {stated!r}, default {action.default!r}"
                checked.append((command, flag))
    for must in [("run", "--max-wer"), ("run", "--max-cer"), ("run", "--min-similarity"), ("run", "--max-gap"),
                 ("run", "--seeds"), ("demo", "--seeds"), ("damage", "--seeds"), ("sweep", "--seeds"),
                 ("demo", "--mode"), ("run", "--mode"), ("sweep", "--mode"), ("fingerprint", "--cases")]:
        assert must in checked, must


def test_cases_is_a_file_for_run_and_sweep_and_a_count_elsewhere(parser):
    """What the README and the help say about --cases (the same flag name, two meanings)."""
    for command in ("run", "sweep"):
        action = _action(parser, command, "--cases")
        assert action.type is None and "FILE" in action.help, command
    for command in ("fingerprint", "damage", "demo"):
        action = _action(parser, command, "--cases")
        assert action.type is int and "COUNT" in action.help, command
    text = README.read_text(encoding="utf-8")
    assert "`run --cases` and `sweep --cases` take a file" in text
    assert "`fingerprint`, `damage`\nand `demo --cases` take a count" in text


def test_readme_cases_columns_are_the_ones_the_loader_reads(tmp_path):
    """A CSV written with exactly the README's column names loads, each column landing where the README says."""
    import numpy as np
    import soundfile as sf

    from f5_parity.cases.case import load_cases

    columns = [re.findall(r"`([^`]+)`", row[0])[0] for row in _readme_table("Cases")]
    assert columns == ["ref_audio", "ref_text", "gen_text", "gen_audio", "name"], columns
    rate = 24_000
    t = np.arange(rate) / rate
    for name in ("ref.wav", "held.wav"):
        sf.write(tmp_path / name, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), rate)
    (tmp_path / "cases.csv").write_text(f"{','.join(columns)}\nref.wav,Eu não sei.,Outra frase.,held.wav,one\n",
                                        encoding="utf-8")
    (case,) = load_cases(tmp_path / "cases.csv")
    assert (case.ref_audio, case.ref_text, case.gen_text) == (tmp_path / "ref.wav", "Eu não sei.", "Outra frase.")
    assert (case.gen_audio, case.name) == (tmp_path / "held.wav", "one")


# --- what the gap defaults catch, measured --------------------------------------------------------------------


def test_readme_states_the_gates_measured_power():
    """issue 37: the README's "Defaults" states, per gap, the clean path's false alarms and each fault's detection at
    the default settings, as reports/bench/gate_power.json measured them (the table is rendered from the file), and
    cites the file and its commit; docs/how-it-works.md does the same for --cross-paths."""
    from f5_parity.parity.gate import DEFAULT_GAP_SOURCE
    from f5_parity.testing.gate_power import summary_markdown

    measured = json.loads((ROOT / DEFAULT_GAP_SOURCE["power"]).read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    defaults = readme[readme.index("## Defaults"):]
    assert summary_markdown(measured["default"]) in defaults
    assert DEFAULT_GAP_SOURCE["power"] in defaults and measured["commit"] in defaults
    assert "+dirty" not in measured["commit"]  # measured on committed code
    how = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    assert summary_markdown(measured["cross_paths"]) in how and measured["commit"] in how


def test_readme_states_the_gates_rule():
    from f5_parity.parity.gate import FEWEST_UNITS, GAP_ALPHA

    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "sign-flip" in text and f"p < {GAP_ALPHA}" in text and "(case, seed)" in text
    assert f"fewer than {FEWEST_UNITS} units" in text


# --- exit codes ---------------------------------------------------------------------------------------------


def _exit_codes() -> set[int]:
    """The CLI's exit codes, whether cli/main.py keeps them as EXIT_* constants or as an ExitCode IntEnum
    (issue 24 item 4 moves them to one): the README's table must list exactly these."""
    import importlib

    cli_main = importlib.import_module("f5_parity.cli.main")  # the module: f5_parity.cli re-exports main()

    enum = getattr(cli_main, "ExitCode", None)
    if enum is not None:
        return {int(e) for e in enum}
    return {v for k, v in vars(cli_main).items() if k.startswith("EXIT_") and isinstance(v, int)}


def test_readme_exit_codes_are_the_clis(capsys):
    from f5_parity.cli.main import main

    table = {int(code): meaning for code, meaning in _readme_table("Exit codes")}
    assert set(table) == _exit_codes()
    assert table[0] == "pass" and "bad input" in table[2] and "interrupted" in table[130]
    # and the two that need no model: a usage error and --version
    assert main(["run"]) == 2
    assert main(["--version"]) == 0
    capsys.readouterr()
