"""What each command is asked to do, as typed values: one request per command, built from plain values
(a flag's value, or an argument of the Python API), each with `validate()` and `plan()`.

`validate()` is everything the command promises before it runs (engine/guard.py): every value is one it
can use, and no output (--out, --json, --junit, the sweep's cache) replaces or lands inside one of its
inputs. It raises InputError(problem, fix) and nothing else on bad input; it writes nothing.

Inputs are parsed once and handed on as values: the infer_cli command line (`infer_cli_settings`) and the
cases file (`case_list`) are read here, on first use, and the assembly (engine/assemble.py) takes the
parsed values from the request instead of reading the paths again.

Paths are kept as the user spelled them, because the reports (run.json, byte-compared by
tests/test_golden.py) name the files as given; the working directory they are relative to is captured
when the request is made (`cwd`), and the infer_cli line is parsed against it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Mapping

from f5_parity.engine import guard
from f5_parity.engine.guard import (DAMAGE_WRITES, DEMO_WRITES, RUN_WRITES, SWEEP_WRITES, Plan, check_config,
                                    check_device, check_file, check_float, check_folder, check_int,
                                    check_no_collision, check_vocab_text, check_vocoder_folder)
from f5_parity.errors import InputError
from f5_parity.sweeps.quality import DEFAULT_DRAWS

PathLike = str | os.PathLike


def _text(value: PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


def _texts(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, os.PathLike)):
        return [os.fspath(values)]
    return [os.fspath(v) for v in values]


@dataclass
class Request:
    """The common part: how a request is made from a mapping of values, checked, and planned."""

    command: ClassVar[str] = ""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]):
        """A request from a mapping (a parsed command line's vars()): keys that are not fields are ignored,
        a None for a field with a default keeps the default."""
        from dataclasses import MISSING

        defaults = {f.name: f.default for f in fields(cls) if f.init}
        return cls(**{k: v for k, v in values.items()
                      if k in defaults and not (v is None and defaults[k] not in (None, MISSING))})

    def validate(self) -> None:
        self.check_values()
        check_no_collision(self.plan())

    def check_values(self) -> None:  # pragma: no cover - every request defines it
        raise NotImplementedError

    def plan(self) -> Plan:  # pragma: no cover - every request defines it
        raise NotImplementedError

    def output_folders(self) -> list[Path]:
        """Folders this request may create: removed again when it fails and they hold nothing."""
        return [o.path for o in self.plan_outputs() if o.folder]

    def plan_outputs(self) -> list:
        return []


def _threshold_text(value):
    """A gate value as its flag's text, which the gate reads (and run.json records as given): 0.5 -> "0.5",
    {"infer": 0.5, "trainer": 0.6} -> "infer=0.5,trainer=0.6" (the Python API's values)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    if isinstance(value, Mapping):
        return ",".join(f"{key}={_threshold_text(v)}" for key, v in value.items())
    return value


def _check_seed(seed) -> None:
    check_int("--seed", seed, low=0, high=guard.SEED_MAX)


def _check_seeds(seeds, default: int) -> None:
    if seeds is not None and seeds < 1:
        raise InputError(f"--seeds {seeds}: at least one seed is needed", f"give --seeds 1 or more (default {default})")


def _config_path(value: str | None) -> str | None:
    return value if value and Path(value).exists() else None


def _wrapper_file(target: str | None) -> str | None:
    if not target or ":" not in target:
        return None
    module = target.rsplit(":", 1)[0]
    return module if module.endswith(".py") else None


def _bundled_fixture() -> Path:
    from f5_parity.demo.fixture import fixture_dir

    return fixture_dir()


# --- the trainer side, the infer side, cases, scoring and gate: run's, and sweep's ------------------------


@dataclass
class RunRequest(Request):
    """`parity-check run CHECKPOINT`: the trainer path and the user's infer path on one checkpoint."""

    command: ClassVar[str] = "run"

    checkpoint: PathLike | None = None
    # trainer side
    train_config: str | None = None  # an official config name or a training YAML
    train_vocab: PathLike | None = None
    mixed_precision: str = "no"
    # infer side: an infer_cli command line or TOML, the F5TTS class, a wrapper, or a whole script
    infer_cli: str | None = None
    infer_cli_config: PathLike | None = None
    infer_path: str = "infer-cli"
    infer_script: PathLike | None = None
    script_args: list[str] = field(default_factory=list)
    port_map: PathLike | None = None  # a runtime port's graphs: which stage each computes (ports/graphs.py)
    infer_config: str | None = None
    infer_vocab: PathLike | None = None
    infer_ema: bool | None = None  # None: not said (load_model's default, EMA; no prediction of a wrapper's set)
    nfe_step: int | None = None
    cfg_strength: float | None = None
    sway_sampling_coef: float | None = None
    speed: float | None = None
    fix_duration: float | None = None
    # vocoder
    vocoder_path: PathLike | None = None
    vocoder: str = "auto"
    # cases
    ref_audio: list[str] = field(default_factory=list)
    ref_text: list[str] = field(default_factory=list)
    gen_text: list[str] = field(default_factory=list)
    cases: PathLike | None = None
    dataset: PathLike | None = None
    samples: PathLike | None = None
    sample_text: str | None = None
    sample_update: int | None = None
    # scoring (full mode)
    asr_model: str | None = None
    asr_backend: str = "faster-whisper"
    language: str = "pt"
    # gate: a number, or per path ("infer=0.5,trainer=0.6"); None: parity.toml, pyproject, the defaults
    max_wer: str | float | Mapping[str, float] | None = None
    max_cer: str | float | Mapping[str, float] | None = None
    min_similarity: str | float | Mapping[str, float] | None = None
    max_gap: str | Mapping[str, float] | None = None  # per metric: "cer=0.2,mcd=0.25"
    max_mcd: str | float | Mapping[str, float] | None = None
    min_speaker_similarity: str | float | Mapping[str, float] | None = None
    # how
    mode: str = "fast"
    seed: int = 0
    seeds: int = 3
    cross_paths: bool = False
    device: str = "cpu"
    # outputs
    json: PathLike | None = None
    junit: PathLike | None = None
    out: PathLike | None = None
    # the folder relative paths (and the infer_cli line) are read against
    cwd: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        for name in ("checkpoint", "train_config", "train_vocab", "infer_cli_config", "infer_script", "port_map",
                     "infer_config",
                     "infer_vocab", "vocoder_path", "cases", "dataset", "samples", "json", "junit", "out"):
            setattr(self, name, _text(getattr(self, name)))
        for name in ("ref_audio", "ref_text", "gen_text", "script_args"):
            setattr(self, name, _texts(getattr(self, name)))
        for name in ("max_wer", "max_cer", "min_similarity", "max_gap", "max_mcd", "min_speaker_similarity"):
            setattr(self, name, _threshold_text(getattr(self, name)))
        self.cwd = Path(self.cwd).absolute()

    # -- parsed once ---------------------------------------------------------------------------------

    @cached_property
    def infer_cli_settings(self):
        """The infer_cli command line (or its TOML), parsed once, the way infer_cli parses it; None without."""
        from f5_parity.f5.infercli import load_infer_cli_toml, parse_infer_cli

        if self.infer_cli:
            return parse_infer_cli(self.infer_cli, cwd=self.cwd)
        if self.infer_cli_config:
            return load_infer_cli_toml(self.infer_cli_config, cwd=self.cwd)
        return None

    @cached_property
    def port_map_settings(self) -> dict | None:
        """The --port-map file, parsed once: {graph file name: {"stage", "inputs", "output"}}; None without."""
        from f5_parity.ports.graphs import read_port_map

        return read_port_map(self.port_map) if self.port_map else None

    @cached_property
    def case_list(self) -> list:
        """The cases file, parsed once (its reference wavs are inputs too); [] without one."""
        from f5_parity.cases.case import load_cases

        return load_cases(self.cases) if self.cases else []

    # -- checks --------------------------------------------------------------------------------------

    def check_values(self) -> None:
        self._check_run_side()
        check_file("checkpoint", self.checkpoint, "checkpoint file")
        if not self.checkpoint:
            raise InputError("no checkpoint given", "give the checkpoint (.pt or .safetensors) to check")
        self._check_after_files()

    def _check_run_side(self) -> None:
        """Everything but the checkpoint itself: shared with sweep, which checks its own checkpoints."""
        if self.mode not in ("fast", "full"):
            raise InputError(f"mode {self.mode!r}", "use fast or full")
        _check_seed(self.seed)
        _check_seeds(self.seeds, type(self).seeds)
        check_int("--nfe-step", self.nfe_step, low=1)
        check_float("--cfg-strength", self.cfg_strength)
        check_float("--sway-sampling-coef", self.sway_sampling_coef)
        check_float("--speed", self.speed, positive=True)
        check_float("--fix-duration", self.fix_duration, positive=True)
        check_int("--sample-update", self.sample_update, low=0)
        check_device(self.device)
        if (self.ref_text or self.gen_text) and not self.ref_audio:
            raise InputError("--ref-text/--gen-text given without --ref-audio",
                             "give the reference wav with --ref-audio (one per --ref-text)")
        if self.script_args and not self.infer_script:
            raise InputError(f"arguments after `--` ({' '.join(self.script_args)}) but no --infer-script",
                             "they are your script's arguments: give the script with --infer-script FILE")
        for flag, path in (("--cases", self.cases), ("--infer-cli-config", self.infer_cli_config),
                           ("--port-map", self.port_map)):
            check_file(flag, path)
        if self.port_map:
            self.port_map_settings  # noqa: B018 - a map that does not parse is bad input, said before the run
        for path in self.ref_audio:
            check_file("--ref-audio", path, "audio file")
        for flag, path in (("--dataset", self.dataset), ("--samples", self.samples)):
            check_folder(flag, path)

    def _check_after_files(self) -> None:
        check_vocab_text("--train-vocab", self.train_vocab)
        check_vocab_text("--infer-vocab", self.infer_vocab)
        check_config("--train-config", self.train_config)
        check_config("--infer-config", self.infer_config)
        if self.vocoder != "griffin-lim":
            check_vocoder_folder(self.vocoder_path)
        if self.infer_cli:
            guard.check_infer_cli(self.infer_cli_settings)

    # -- what it reads and writes --------------------------------------------------------------------

    def _read_inputs(self, p: Plan) -> None:
        p.read("--train-config", _config_path(self.train_config))
        p.read("--infer-config", _config_path(self.infer_config))
        p.read("--train-vocab", self.train_vocab)
        p.read("--infer-vocab", self.infer_vocab)
        p.read("--infer-cli-config", self.infer_cli_config)
        if self.infer_cli:
            p.read("--infer-cli", *guard.infer_cli_files(self.infer_cli_settings))
        p.read("--infer-path", _wrapper_file(self.infer_path))
        p.read("--vocoder-path", self.vocoder_path)
        p.read("--ref-audio", *self.ref_audio)
        p.read("--cases", self.cases)
        if self.cases and Path(self.cases).is_file():
            p.read("--cases", *[c.ref_audio for c in self.case_list])
        p.read("--infer-script", self.infer_script)
        p.read("--port-map", self.port_map)
        p.read("--dataset", self.dataset)
        p.read("--samples", self.samples)

    def plan(self) -> Plan:
        p = Plan()
        p.read("checkpoint", self.checkpoint)
        self._read_inputs(p)
        p.write("--out", self.out, folder=True, writes=RUN_WRITES)
        p.write("--json", self.json)
        p.write("--junit", self.junit)
        return p

    def plan_outputs(self) -> list:
        p = Plan()
        p.write("--out", self.out, folder=True, writes=RUN_WRITES)
        return p.outputs

    def output_folders(self) -> list[Path]:
        return super().output_folders() + ([] if self.out else [Path("reports")])


@dataclass
class SweepRequest(RunRequest):
    """`parity-check sweep RUN`: every checkpoint of a training run, judged as `run` judges one."""

    command: ClassVar[str] = "sweep"

    run: list[str] = field(default_factory=list)  # F5's ckpts/<exp>/ folder, a glob, or checkpoint files
    seeds: int = 3
    weights: str = "raw,ema"
    held_out: str | None = None  # F5 metadata.csv of clips the model did not train on (the flow loss on them)
    quality_draws: int = DEFAULT_DRAWS
    train_log: PathLike | None = None  # F5's tensorboard run folder (runs/<name>/); found beside the run when None
    gate: str = "best"
    watch: bool = False
    poll: float = 10.0
    watch_timeout: float = 3600.0
    launch: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.run = _texts(self.run)
        self.train_log = _text(self.train_log)

    @property
    def weight_sets(self) -> tuple[str, ...]:
        return tuple(w.strip() for w in str(self.weights).split(",") if w.strip())

    @property
    def out_folder(self) -> Path:
        """--out, or reports/sweep-<the run folder's name>: the cache lives there."""
        if self.out:
            return Path(self.out)
        first = Path(self.run[0])
        name = (first if first.is_dir() else first.parent).resolve().name or "run"
        return Path("reports") / f"sweep-{name}"

    def discovered(self) -> list[Path]:
        from f5_parity.sweeps.discovery import discover_checkpoints

        return discover_checkpoints(self.run)  # a missing path or a non-checkpoint file: one InputError

    def check_values(self) -> None:
        if not self.run:
            raise InputError("no checkpoints given", "give F5's ckpts/<exp>/ folder, a quoted glob, or checkpoint files")
        self._check_run_side()
        from f5_parity.sweeps.discovery import WEIGHT_SETS

        if not self.weight_sets or set(self.weight_sets) - set(WEIGHT_SETS):
            raise InputError(f"--weights {self.weights!r}", "give raw, ema or raw,ema")
        if self.gate not in ("best", "all", "last"):
            raise InputError(f"--gate {self.gate!r}", "use best, all or last")
        if self.launch is not None and self.launch < 1:
            raise InputError(f"--launch {self.launch}", "give the number of processes, 1 or more")
        if self.quality_draws < 2:
            raise InputError(f"--quality-draws {self.quality_draws}: an interval needs two draws or more",
                             f"give --quality-draws 2 or more (default {DEFAULT_DRAWS})")
        if self.seeds < 1:
            raise InputError(f"--seeds {self.seeds}: at least one seed is needed", "give --seeds 1 or more")
        if self.held_out and not Path(self.held_out).is_file():
            raise InputError(f"--held-out {self.held_out}: no such file", "give F5's metadata.csv (audio_file|text)")
        if self.train_log:
            from f5_parity.sweeps.training_log import check_training_log

            check_training_log(self.train_log)
        check_float("--poll", self.poll, positive=True)
        check_float("--watch-timeout", self.watch_timeout, positive=True)
        if not self.discovered() and not self.watch:
            raise InputError(f"no checkpoint (.pt, .safetensors) in {' '.join(self.run)}",
                             "give F5's ckpts/<exp>/ folder, a quoted glob, or checkpoint files")
        self._check_after_files()

    def plan(self) -> Plan:
        p = Plan()
        # The run folder is an input as a whole (a live training writes into it); globbed files each.
        p.read("RUN", *[s for s in self.run if Path(s).exists()])
        p.read("RUN", *self.discovered())
        p.read("--train-log", self.train_log)
        self._read_inputs(p)
        p.write("--out", self.out_folder, folder=True, writes=SWEEP_WRITES)
        p.write("--junit", self.junit)
        return p

    def plan_outputs(self) -> list:
        p = Plan()
        p.write("--out", self.out_folder, folder=True, writes=SWEEP_WRITES)
        return p.outputs

    def output_folders(self) -> list[Path]:
        return [o.path for o in self.plan_outputs()]

    def for_checkpoint(self, checkpoint: PathLike) -> RunRequest:
        """The run request the specs are built from: one checkpoint of the sweep (then retargeted to each)."""
        values = {f.name: getattr(self, f.name) for f in fields(RunRequest) if f.init}
        run = RunRequest(**{**values, "checkpoint": os.fspath(checkpoint), "json": None, "junit": None})
        for parsed in ("infer_cli_settings", "case_list"):  # parsed once: handed on, not parsed again
            if parsed in self.__dict__:
                run.__dict__[parsed] = self.__dict__[parsed]
        return run


# --- the other commands -----------------------------------------------------------------------------------


@dataclass
class InspectRequest(Request):
    """`parity-check inspect CHECKPOINT`: the checkpoint file and what F5's loaders do with it."""

    command: ClassVar[str] = "inspect"

    checkpoint: PathLike | None = None
    config: str | None = None
    vocab: PathLike | None = None
    train_vocab: PathLike | None = None
    text: list[str] = field(default_factory=list)
    json: PathLike | None = None

    def __post_init__(self) -> None:
        for name in ("checkpoint", "config", "vocab", "train_vocab", "json"):
            setattr(self, name, _text(getattr(self, name)))
        self.text = _texts(self.text)

    def check_values(self) -> None:
        if not self.checkpoint:
            raise InputError("no checkpoint given", "give the checkpoint (.pt or .safetensors) to inspect")
        check_file("CHECKPOINT", self.checkpoint, "checkpoint file")
        for flag, path in (("--vocab", self.vocab), ("--train-vocab", self.train_vocab)):
            check_file(flag, path, "vocab.txt")
            if path and b"\x00" in Path(path).read_bytes():
                raise InputError(f"{flag} {path} is a binary file, not a vocab", "give the vocab.txt (one token per line)")
        if self.config:
            p = Path(self.config)
            if p.is_dir():
                raise InputError(f"--config {p} is a directory, not a config", "give a YAML file or an official config name")
            if p.is_file() and b"\x00" in p.read_bytes()[:4096]:
                raise InputError(f"--config {p} is a binary file (a checkpoint?), not a YAML config",
                                 "give the training YAML, or an official name such as F5TTS_v1_Base")

    def plan(self) -> Plan:
        p = Plan()
        p.read("CHECKPOINT", self.checkpoint)
        p.read("--vocab", self.vocab)
        p.read("--train-vocab", self.train_vocab)
        p.read("--config", _config_path(self.config))
        p.write("--json", self.json)
        return p


@dataclass
class FingerprintRequest(Request):
    """`parity-check fingerprint CHECKPOINT`: the settings the weights cannot reveal, from its own loss."""

    command: ClassVar[str] = "fingerprint"

    checkpoint: PathLike | None = None
    vocab: list[str] = field(default_factory=list)
    dataset: PathLike | None = None
    ref_audio: list[str] = field(default_factory=list)
    ref_text: list[str] = field(default_factory=list)
    cases: int = 3
    draws: int = 6
    max_draws: int = 30
    seed: int = 0
    device: str = "cpu"
    json: PathLike | None = None

    def __post_init__(self) -> None:
        for name in ("checkpoint", "dataset", "json"):
            setattr(self, name, _text(getattr(self, name)))
        for name in ("vocab", "ref_audio", "ref_text"):
            setattr(self, name, _texts(getattr(self, name)))

    def check_values(self) -> None:
        _check_seed(self.seed)
        check_int("--draws", self.draws, low=1)
        check_int("--max-draws", self.max_draws, low=1)
        check_int("--cases", self.cases, low=1)
        check_device(self.device)
        if not self.checkpoint:
            raise InputError("no checkpoint given", "give the checkpoint (.pt or .safetensors) to fingerprint")
        check_file("checkpoint", self.checkpoint, "checkpoint file")
        if self.ref_text and not self.ref_audio:
            raise InputError("--ref-text given without --ref-audio", "give the reference wav with --ref-audio")
        for v in self.vocab:
            check_vocab_text("--vocab", v)
        check_folder("--dataset", self.dataset)
        for path in self.ref_audio:
            check_file("--ref-audio", path, "audio file")
        if not self.dataset and not self.ref_audio:
            raise InputError("fingerprint needs the model's own kind of audio", "give --dataset DIR or --ref-audio/--ref-text")

    def plan(self) -> Plan:
        p = Plan()
        p.read("checkpoint", self.checkpoint)
        p.read("--vocab", *self.vocab)
        p.read("--dataset", self.dataset)
        p.read("--ref-audio", *self.ref_audio)
        p.write("--json", self.json)
        return p


@dataclass
class ScoreRequest(Request):
    """`parity-check score WAV... --text ...`: transcribe wavs offline and score them against the text."""

    command: ClassVar[str] = "score"

    wavs: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    json: PathLike | None = None
    asr_model: str | None = None
    asr_backend: str = "faster-whisper"
    language: str = "pt"
    device: str = "cpu"
    strip_diacritics: bool = False

    def __post_init__(self) -> None:
        self.wavs, self.text, self.json = _texts(self.wavs), _texts(self.text), _text(self.json)

    def check_values(self) -> None:
        check_device(self.device)  # the wavs themselves: read_audio names each problem
        if len(self.text) != len(self.wavs):
            raise InputError(f"got {len(self.wavs)} wav(s) but {len(self.text)} --text value(s)",
                             "pass one --text \"...\" per WAV, in the same order")

    def plan(self) -> Plan:
        p = Plan()
        p.read("WAV", *self.wavs)
        p.write("--json", self.json)
        return p


@dataclass
class DamageRequest(Request):
    """`parity-check damage`: what each single infer-side mistake costs on the bundled trained fixture."""

    command: ClassVar[str] = "damage"

    out: PathLike = "reports/damage"
    cases: int = 2
    factor: list[str] = field(default_factory=list)
    seed: int = 0
    seeds: int = 3
    vocoder: str = "griffin-lim"
    asr_backend: str = "faster-whisper"

    def __post_init__(self) -> None:
        self.out = _text(self.out) or "reports/damage"
        self.factor = _texts(self.factor)

    def check_values(self) -> None:
        _check_seed(self.seed)
        _check_seeds(self.seeds, 3)
        check_int("--cases", self.cases, low=1)
        from f5_parity.demo.faults import FAULTS

        for f in self.factor:
            if f not in FAULTS:
                raise InputError(f"unknown factor {f!r}", f"use one of {', '.join(FAULTS)}")

    def plan(self) -> Plan:
        p = Plan()
        p.read("the bundled fixture", _bundled_fixture())
        p.write("--out", self.out, folder=True, writes=DAMAGE_WRITES)
        return p

    def plan_outputs(self) -> list:
        p = Plan()
        p.write("--out", self.out, folder=True)
        return p.outputs


@dataclass
class DemoRequest(Request):
    """`parity-check demo`: the whole tool on the bundled fixture with three injected infer-side faults."""

    command: ClassVar[str] = "demo"

    out: PathLike = "reports/demo"
    mode: str = "full"
    cases: int = 2
    seed: int = 0
    seeds: int = 3
    junit: PathLike | None = None
    asr_backend: str = "faster-whisper"

    def __post_init__(self) -> None:
        self.out = _text(self.out) or "reports/demo"
        self.junit = _text(self.junit)

    def check_values(self) -> None:
        if self.mode not in ("fast", "full"):
            raise InputError(f"mode {self.mode!r}", "use fast or full")
        _check_seed(self.seed)
        _check_seeds(self.seeds, 3)
        check_int("--cases", self.cases, low=1)

    def plan(self) -> Plan:
        p = Plan()
        p.read("the bundled fixture", _bundled_fixture())
        p.write("--out", self.out, folder=True, writes=DEMO_WRITES)
        p.write("--junit", self.junit)
        return p

    def plan_outputs(self) -> list:
        p = Plan()
        p.write("--out", self.out, folder=True)
        return p.outputs


@dataclass
class ExportRequest(Request):
    """`parity-check export CHECKPOINT OUT --weights raw --for infer-cli`: a copy whose EMA slot holds the chosen
    set, for a loader that only reads that slot (f5-tts_infer-cli has no --use_ema flag)."""

    command: ClassVar[str] = "export"
    TARGETS: ClassVar[tuple[str, ...]] = ("infer-cli",)

    checkpoint: PathLike | None = None
    out: PathLike | None = None
    weights: str = "raw"
    for_: str = "infer-cli"

    def __post_init__(self) -> None:
        self.checkpoint, self.out = _text(self.checkpoint), _text(self.out)

    def check_values(self) -> None:
        if not self.checkpoint:
            raise InputError("no checkpoint given", "give the checkpoint (.pt or .safetensors) to export from")
        check_file("CHECKPOINT", self.checkpoint, "checkpoint file")
        if not self.out:
            raise InputError("no output file given", "give the new file's name, e.g. model_raw_for_infer_cli.pt")
        if self.weights not in ("raw", "ema"):
            raise InputError(f"--weights {self.weights!r} is not a weight set", "give --weights raw or --weights ema")
        if self.for_ not in self.TARGETS:
            raise InputError(f"--for {self.for_!r} is not a loader this command writes for",
                             f"give --for {' or '.join(self.TARGETS)}")
        if not str(self.out).endswith(".pt"):
            raise InputError(f"OUT {self.out} is not a .pt file", "give a file name ending in .pt (f5's loaders read "
                             "any other suffix than .safetensors with torch.load)")
        if Path(self.out).exists():
            same = Path(self.out).resolve() == Path(self.checkpoint).resolve()
            raise InputError(f"OUT {self.out} " + ("is the CHECKPOINT itself" if same else "exists")
                             + "; export never replaces a file", "give a new file name")

    def plan(self) -> Plan:
        p = Plan()
        p.read("CHECKPOINT", self.checkpoint)
        p.write("OUT", self.out)
        return p


REQUESTS: dict[str, type[Request]] = {r.command: r for r in (RunRequest, SweepRequest, InspectRequest,
                                                             FingerprintRequest, ScoreRequest, DamageRequest,
                                                             DemoRequest, ExportRequest)}
