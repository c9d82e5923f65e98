"""The infer side as users hold it: an infer_cli command line or its TOML, read the way infer_cli reads it.

Mirrors f5-tts 1.1.22's ``f5_tts/infer/infer_cli.py``: the same flags (argparse, with its prefix
abbreviations), the TOML it always loads (``-c``, default the package's ``infer/examples/basic/basic.toml``),
and its defaulting lines ``x = args.x or config.get("x", default)``. Those lines have a quirk that this
module reproduces and reports: a falsy value on the command line (``--cfg_strength 0``, ``--speed 0``,
``--sway_sampling_coef 0``) is ignored and the TOML's value, else utils_infer's default, is used.

Nothing here imports f5-tts's inference code (it picks a device and loads hydra); utils_infer's
defaults are copied below and pinned by a test against the installed source.
"""

from __future__ import annotations

import argparse
import shlex
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from f5_parity.errors import InputError, syntax_error_line
from f5_parity.f5.configs import load_config
from f5_parity.f5.defaults import utils_infer_defaults
from f5_parity.f5.versions import infer_cli_facts

# utils_infer.py module globals: infer_cli's fallbacks after the TOML (read from the installed source).
UTILS_INFER_DEFAULTS: dict[str, Any] = utils_infer_defaults()

# infer_cli's literal fallbacks for settings utils_infer does not define.
INFER_CLI_DEFAULTS: dict[str, Any] = {
    "model": infer_cli_facts().model_default,
    "ckpt_file": "",
    "vocab_file": "",
    "ref_audio": "infer/examples/basic/basic_ref_en.wav",
    "ref_text": "Some call me nature, others call me mother nature.",
    "gen_text": "Here we generate something just for test.",
    "gen_file": "",
    "remove_silence": False,
    "load_vocoder_from_local": False,
}

# infer_cli: `vocoder_local_path` per vocoder, relative to the working directory.
VOCODER_LOCAL_PATHS = {
    "vocos": "../checkpoints/vocos-mel-24khz",
    "bigvgan": "../checkpoints/bigvgan_v2_24khz_100band_256x",
}

PROGRAM_NAMES = ("f5-tts_infer-cli",)
MODULE_NAME = "f5_tts.infer.infer_cli"


def _package_file(relative: str) -> str:
    # f5_tts is a namespace package (files() gives a MultiplexedPath): join through it, then str().
    return str(files("f5_tts").joinpath(relative))


def default_config_path() -> Path:
    """The TOML infer_cli loads when no -c is given."""
    return Path(_package_file("infer/examples/basic/basic.toml"))


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError instead of printing usage and exiting."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise InputError(f"infer_cli command line: {message}", "fix the command line as infer_cli itself would need")


def _build_parser() -> _Parser:
    # Same flags, types, choices and defaults as infer_cli.py (1.1.22); `allow_abbrev` stays on, as there.
    # Flags only some releases have are added when the installed infer_cli declares them.
    installed = Path(_package_file("infer/infer_cli.py")).read_text(encoding="utf-8")
    p = _Parser(prog="f5-tts_infer-cli", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-c", "--config", type=str, default=None)  # None: the package's basic.toml (see below)
    p.add_argument("-m", "--model", type=str)
    p.add_argument("-mc", "--model_cfg", type=str)
    p.add_argument("-p", "--ckpt_file", type=str)
    p.add_argument("-v", "--vocab_file", type=str)
    p.add_argument("-r", "--ref_audio", type=str)
    p.add_argument("-s", "--ref_text", type=str)
    p.add_argument("-t", "--gen_text", type=str)
    p.add_argument("-f", "--gen_file", type=str)
    p.add_argument("-o", "--output_dir", type=str)
    p.add_argument("-w", "--output_file", type=str)
    p.add_argument("--save_chunk", action="store_true")
    if "--no_legacy_text" in installed:
        # Only in releases that have it (1.1.10+): it changes saved file names, never the audio.
        p.add_argument("--no_legacy_text", action="store_false")
    p.add_argument("--remove_silence", action="store_true")
    p.add_argument("--load_vocoder_from_local", action="store_true")
    p.add_argument("--vocoder_name", type=str, choices=["vocos", "bigvgan"])
    p.add_argument("--target_rms", type=float)
    p.add_argument("--cross_fade_duration", type=float)
    p.add_argument("--nfe_step", type=int)
    p.add_argument("--cfg_strength", type=float)
    p.add_argument("--sway_sampling_coef", type=float)
    p.add_argument("--speed", type=float)
    p.add_argument("--fix_duration", type=float)
    if '"--device"' in installed:  # 1.x
        p.add_argument("--device", type=str)
    return p


@dataclass
class InferCliSettings:
    """What infer_cli would run with, and where each setting came from."""

    model: str
    model_cfg: str  # the YAML infer_cli loads (the package's configs/<model>.yaml unless given)
    model_cfg_given: bool
    infer_config: str | dict[str, Any]  # what the infer spec loads: a config name, a YAML path, or a 0.x family's
    checkpoint: str  # absolute local path, or the hf:// URL infer_cli would download
    checkpoint_given: bool
    vocab_file: str | None  # None: load_model's default, the package's infer/examples/vocab.txt
    ref_audio: str
    ref_text: str
    gen_text: str
    vocoder_name: str
    load_vocoder_from_local: bool
    vocoder_local_path: str | None  # absolute; only when load_vocoder_from_local
    nfe_step: int
    cfg_strength: float
    sway_sampling_coef: float
    speed: float
    fix_duration: float | None
    target_rms: float
    cross_fade_duration: float
    device: str | None  # None: utils_infer's automatic choice (cuda, xpu, mps, else cpu)
    remove_silence: bool
    config_path: str  # the TOML that was loaded
    argv: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # setting -> "command line" | "toml" | "default"
    findings: list[str] = field(default_factory=list)  # infer_cli quirks that fired, one sentence each

    def infer_spec_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for f5_parity.paths.spec.infer_spec (the checkpoint is `self.checkpoint`)."""
        kwargs: dict[str, Any] = {
            "infer_config": self.infer_config,
            "infer_vocab": self.vocab_file,
            "use_ema": True,  # infer_cli has no flag for it: load_model's default
            "nfe": self.nfe_step,
            "cfg": self.cfg_strength,
            "sway": self.sway_sampling_coef,
            "speed": self.speed,
            "fix_duration": self.fix_duration,
            "vocoder_name": self.vocoder_name,
        }
        if self.load_vocoder_from_local:
            kwargs["vocoder_local_path"] = self.vocoder_local_path
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _strip_program(tokens: list[str]) -> list[str]:
    """The arguments after the program: f5-tts_infer-cli, python -m f5_tts.infer.infer_cli, .../infer_cli.py."""
    for i, tok in enumerate(tokens):
        name = tok.replace("\\", "/").rsplit("/", 1)[-1]
        if name in PROGRAM_NAMES or name in ("infer_cli.py", "infer-cli.py"):
            return tokens[i + 1:]
        if tok == MODULE_NAME and i > 0 and tokens[i - 1] == "-m":
            return tokens[i + 1:]
    if not tokens or tokens[0].startswith("-"):
        return tokens
    raise InputError(
        f"not an infer_cli command line: {tokens[0]!r} is neither f5-tts_infer-cli nor an infer_cli flag",
        "give the command as you run it, e.g. \"f5-tts_infer-cli -m F5TTS_v1_Base -p model.pt -v vocab.txt\"",
    )


def _resolve(path: str, cwd: Path) -> str:
    if path.startswith("hf://"):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (cwd / p).resolve())


def _load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"infer_cli config (-c) not found: {path}", "check the path of the TOML")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"infer_cli config is not valid TOML: {syntax_error_line(path, exc)}", "fix the TOML syntax") from None


def _default_checkpoint_url(model: str, vocoder_name: str) -> str:
    if infer_cli_facts().families:  # 0.x: per family, F5TTS_Base's checkpoints only
        if model == "E2-TTS":
            return "hf://SWivid/E2-TTS/E2TTS_Base/model_1200000.safetensors"
        if vocoder_name == "bigvgan":
            return "hf://SWivid/F5-TTS/F5TTS_Base_bigvgan/model_1250000.pt"
        return "hf://SWivid/F5-TTS/F5TTS_Base/model_1200000.safetensors"
    # infer_cli: repo_name, ckpt_step, ckpt_type = "F5-TTS", 1250000, "safetensors" and its overrides.
    repo, step, kind = "F5-TTS", 1250000, "safetensors"
    if model == "F5TTS_Base":
        if vocoder_name == "vocos":
            step = 1200000
        elif vocoder_name == "bigvgan":
            model, kind = "F5TTS_Base_bigvgan", "pt"
    elif model == "E2TTS_Base":
        repo, step = "E2-TTS", 1200000
    return f"hf://SWivid/{repo}/{model}/model_{step}.{kind}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return repr(value) if isinstance(value, str) else str(value)


def parse_infer_cli_argv(argv: list[str], *, cwd: str | Path | None = None) -> InferCliSettings:
    """The settings infer_cli would use for these arguments (program name already removed)."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    args, extra = _build_parser().parse_known_args(list(argv))
    if extra:
        flag = next((e for e in extra if e.startswith("-")), extra[0])
        raise InputError(
            f"infer_cli has no option {flag!r}" if flag.startswith("-") else f"infer_cli takes no argument {flag!r}",
            "use infer_cli's own flags (f5-tts_infer-cli --help), e.g. --nfe_step, --cfg_strength, -p, -v",
        )
    if args.help:
        raise InputError("the command line asks infer_cli for --help; it would run nothing",
                         "give the command line you infer with")
    config_path = Path(_resolve(args.config, base)) if args.config else default_config_path()
    config = _load_toml(config_path)
    findings: list[str] = []
    sources: dict[str, str] = {}

    def pick(dest: str, default: Any, flag: str) -> Any:
        # infer_cli: `args.x or config.get("x", default)`; a falsy command-line value falls through.
        given = getattr(args, dest)
        if given:
            sources[dest] = "command line"
            return given
        value = config.get(dest, default)
        sources[dest] = "toml" if dest in config else "default"
        if given is not None:
            where = f"the TOML's {dest}" if dest in config else "utils_infer's default"
            findings.append(f"{flag} {_fmt(given)} is ignored: infer_cli reads `args.{dest} or config.get(...)`, so a "
                            f"{'0' if isinstance(given, (int, float)) else 'empty value'} falls back to "
                            f"{_fmt(value)} ({where})")
        return value

    model = pick("model", INFER_CLI_DEFAULTS["model"], "-m/--model")
    ckpt_file = pick("ckpt_file", "", "-p/--ckpt_file")
    vocab_file = pick("vocab_file", "", "-v/--vocab_file")
    ref_audio = pick("ref_audio", INFER_CLI_DEFAULTS["ref_audio"], "-r/--ref_audio")
    if args.ref_text is not None:  # the one setting read with `is not None`: an empty text is kept
        ref_text, sources["ref_text"] = args.ref_text, "command line"
    else:
        ref_text = config.get("ref_text", INFER_CLI_DEFAULTS["ref_text"])
        sources["ref_text"] = "toml" if "ref_text" in config else "default"
    gen_text = pick("gen_text", INFER_CLI_DEFAULTS["gen_text"], "-t/--gen_text")
    gen_file = pick("gen_file", "", "-f/--gen_file")
    remove_silence = bool(args.remove_silence or config.get("remove_silence", False))
    local = bool(args.load_vocoder_from_local or config.get("load_vocoder_from_local", False))
    vocoder_name = pick("vocoder_name", UTILS_INFER_DEFAULTS["mel_spec_type"], "--vocoder_name")
    target_rms = pick("target_rms", UTILS_INFER_DEFAULTS["target_rms"], "--target_rms")
    cross_fade = pick("cross_fade_duration", UTILS_INFER_DEFAULTS["cross_fade_duration"], "--cross_fade_duration")
    nfe_step = pick("nfe_step", UTILS_INFER_DEFAULTS["nfe_step"], "--nfe_step")
    cfg_strength = pick("cfg_strength", UTILS_INFER_DEFAULTS["cfg_strength"], "--cfg_strength")
    sway = pick("sway_sampling_coef", UTILS_INFER_DEFAULTS["sway_sampling_coef"], "--sway_sampling_coef")
    speed = pick("speed", UTILS_INFER_DEFAULTS["speed"], "--speed")
    fix_duration = pick("fix_duration", UTILS_INFER_DEFAULTS["fix_duration"], "--fix_duration")
    device = pick("device", None, "--device") if hasattr(args, "device") else None  # 0.x: no --device

    _check_types(config_path, numbers=dict(nfe_step=nfe_step, cfg_strength=cfg_strength, sway_sampling_coef=sway,
                                           speed=speed, target_rms=target_rms, cross_fade_duration=cross_fade),
                 fix_duration=fix_duration,
                 strings=dict(model=model, ckpt_file=ckpt_file, vocab_file=vocab_file, ref_audio=ref_audio,
                              ref_text=ref_text, gen_text=gen_text, gen_file=gen_file, vocoder_name=vocoder_name))

    # infer_cli's "patches for pip pkg user": example paths point into the installed package.
    ref_audio = _package_file(ref_audio) if "infer/examples/" in ref_audio else _resolve(ref_audio, base)
    if gen_file:
        gen_path = Path(_package_file(gen_file) if "infer/examples/" in gen_file else _resolve(gen_file, base))
        if not gen_path.is_file():
            raise InputError(f"infer_cli gen_file not found: {gen_path}", "check the -f/--gen_file path")
        gen_text = gen_path.read_text(encoding="utf-8")
        findings.append(f"gen_file {gen_path} is given: its text replaces gen_text, as infer_cli does")
    if "voices" in config:
        findings.append(f"the TOML defines voices ({', '.join(sorted(config['voices']))}); "
                        "only the main voice (ref_audio/ref_text) is compared")
    if not ref_text.strip():
        findings.append("ref_text is empty: infer_cli would transcribe the reference with Whisper from the model hub; "
                        "give the transcript instead")

    model_cfg, model_cfg_given, infer_config = _model_config(args, config, model, vocoder_name, base, sources)

    checkpoint, vocab, vocoder_local_path = _locations(ckpt_file, vocab_file, model, vocoder_name, local, base,
                                                       findings)
    if target_rms != UTILS_INFER_DEFAULTS["target_rms"]:
        findings.append(f"target_rms {_fmt(target_rms)} differs from utils_infer's 0.1, which the infer spec models")

    return InferCliSettings(
        model=model, model_cfg=model_cfg, model_cfg_given=model_cfg_given, infer_config=infer_config,
        checkpoint=checkpoint, checkpoint_given=bool(ckpt_file), vocab_file=vocab,
        ref_audio=ref_audio, ref_text=ref_text, gen_text=gen_text,
        vocoder_name=vocoder_name, load_vocoder_from_local=local, vocoder_local_path=vocoder_local_path,
        nfe_step=int(nfe_step), cfg_strength=float(cfg_strength), sway_sampling_coef=float(sway),
        speed=float(speed), fix_duration=None if fix_duration is None else float(fix_duration),
        target_rms=float(target_rms), cross_fade_duration=float(cross_fade), device=device,
        remove_silence=remove_silence, config_path=str(config_path), argv=list(argv),
        sources=sources, findings=findings,
    )


def _check_types(config_path: Path, *, numbers: dict[str, Any], fix_duration: Any, strings: dict[str, Any]) -> None:
    """A TOML can hold any type; infer_cli would crash later on a wrong one. Say which, now."""
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{name} in {config_path} is {value!r}, not a number", f"write {name} as a number")
    if fix_duration is not None and (isinstance(fix_duration, bool) or not isinstance(fix_duration, (int, float))):
        raise InputError(f"fix_duration in {config_path} is {fix_duration!r}, not a number", "write it in seconds")
    for name, value in strings.items():
        if not isinstance(value, str):
            raise InputError(f"{name} in {config_path} is {value!r}, not a string", f"quote {name} in the TOML")
    if strings["vocoder_name"] not in VOCODER_LOCAL_PATHS:
        raise InputError(f"vocoder_name {strings['vocoder_name']!r} in {config_path} is not vocos or bigvgan",
                         "set vocoder_name to vocos or bigvgan")


def _model_config(args, config: dict[str, Any], model: str, vocoder_name: str, base: Path,
                  sources: dict[str, str]) -> tuple[str, bool, str | dict[str, Any]]:
    """The model YAML infer_cli loads (-mc, the TOML's model_cfg, or the package's configs/<model>.yaml),
    whether it was given, and what the infer spec loads."""
    families = infer_cli_facts().families
    if families:
        return _family_config(args, config, model, vocoder_name, base, sources, families)
    model_cfg, model_cfg_given = _pick_model_cfg(
        args, config, model, base, sources,
        "give -m an official name (F5TTS_v1_Base, F5TTS_Base, E2TTS_Base, ...) or -mc the training YAML")
    if model != "F5TTS_Base":
        # infer_cli: `assert vocoder_name == model_cfg.model.mel_spec.mel_spec_type`
        cfg_mel = (load_config(model_cfg).get("mel_spec") or {}).get("mel_spec_type")
        if cfg_mel is not None and cfg_mel != vocoder_name:
            raise InputError(
                f"infer_cli would stop with an AssertionError: --vocoder_name {vocoder_name} but the config "
                f"{Path(model_cfg).name} has mel_spec_type {cfg_mel}",
                f"use --vocoder_name {cfg_mel}, or a config trained with {vocoder_name}",
            )
    return model_cfg, model_cfg_given, (model_cfg if model_cfg_given else model)


def _pick_model_cfg(args, config: dict[str, Any], default_name: str, base: Path, sources: dict[str, str],
                    fix: str) -> tuple[str, bool]:
    """`args.model_cfg or config.get("model_cfg", <package configs/default_name.yaml>)`, as infer_cli reads it,
    and whether it was given; a file that does not exist is bad input."""
    model_cfg_given = bool(args.model_cfg or config.get("model_cfg"))
    if model_cfg_given:
        model_cfg = _resolve(args.model_cfg or config["model_cfg"], base)
        sources["model_cfg"] = "command line" if args.model_cfg else "toml"
    else:
        model_cfg = _package_file(f"configs/{default_name}.yaml")
        sources["model_cfg"] = "default"
    if not Path(model_cfg).is_file():
        raise InputError(f"infer_cli would load the model config {model_cfg}, which does not exist", fix)
    return model_cfg, model_cfg_given


def _family_config(args, config: dict[str, Any], model: str, vocoder_name: str, base: Path,
                   sources: dict[str, str], families: dict[str, str]) -> tuple[str, bool, str | dict[str, Any]]:
    """f5-tts 0.x: -m picks F5-TTS (DiT with -mc's or the TOML's model_cfg, else F5TTS_Base_train.yaml)
    or E2-TTS (UNetT with a fixed arch, the arch of E2TTS_Base_train.yaml)."""
    if model not in families:
        raise InputError(f"infer_cli of this f5-tts (0.x) knows -m {' or '.join(families)}, not {model!r}",
                         "use -m F5-TTS with -mc your training YAML (0.x names no configs with -m)")
    if model == "E2-TTS":
        if args.model_cfg:
            raise InputError("infer_cli (0.x) would stop with an AssertionError: E2-TTS does not take -mc",
                             "drop -mc: 0.x builds E2-TTS with its fixed arch")
        if vocoder_name != "vocos":
            raise InputError("infer_cli (0.x) would stop with an AssertionError: E2-TTS only supports vocos",
                             "use --vocoder_name vocos")
        model_cfg = _package_file(f"configs/{families[model]}.yaml")
        sources["model_cfg"] = "default"
        return model_cfg, False, {**load_config(model_cfg), "backbone": "UNetT"}
    model_cfg, model_cfg_given = _pick_model_cfg(args, config, families[model], base, sources,
                                                 "give -mc the training YAML")
    # 0.x builds DiT from the YAML's arch whatever its model.name says.
    return model_cfg, model_cfg_given, {**load_config(model_cfg), "backbone": "DiT"}


def _locations(ckpt_file: str, vocab_file: str, model: str, vocoder_name: str, local: bool, base: Path,
               findings: list[str]) -> tuple[str, str | None, str | None]:
    """Which checkpoint, vocab and local vocoder folder infer_cli would read, and what is odd about them."""
    if ckpt_file:
        checkpoint = _resolve(ckpt_file, base)
    else:
        checkpoint = _default_checkpoint_url(model, vocoder_name)
        findings.append(f"no -p/--ckpt_file: infer_cli would download the official {checkpoint}, "
                        "not your checkpoint")
    vocab = _resolve(vocab_file, base) if vocab_file else None
    for what, value in (("-p/--ckpt_file", ckpt_file), ("-v/--vocab_file", vocab_file)):
        if value.startswith("hf://"):
            findings.append(f"{what} is {value}: infer_cli downloads it; the comparison needs the local file")
    if vocab is None:
        findings.append("no -v/--vocab_file: load_model uses f5-tts's own vocab (infer/examples/vocab.txt)")
    vocoder_local_path = None
    if local:
        vocoder_local_path = _resolve(VOCODER_LOCAL_PATHS[vocoder_name], base)
        findings.append(f"--load_vocoder_from_local reads {VOCODER_LOCAL_PATHS[vocoder_name]} relative to the "
                        f"working directory: {vocoder_local_path}")
    return checkpoint, vocab, vocoder_local_path


def parse_infer_cli(command_line: str, *, cwd: str | Path | None = None) -> InferCliSettings:
    """An infer_cli command line as typed (with or without `f5-tts_infer-cli` / `python -m ...` in front)."""
    if not command_line or not command_line.strip():
        raise InputError("the infer_cli command line is empty", "give it, e.g. --infer-cli \"f5-tts_infer-cli -p model.pt\"")
    text = command_line.replace("\\\r\n", " ").replace("\\\n", " ")  # shell line continuations
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"cannot split the infer_cli command line: {exc}", "check its quotes") from None
    return parse_infer_cli_argv(_strip_program(tokens), cwd=cwd)


def load_infer_cli_toml(path: str | Path, *, cwd: str | Path | None = None) -> InferCliSettings:
    """An infer_cli TOML, read as `f5-tts_infer-cli -c PATH` would read it (paths relative to `cwd`)."""
    return parse_infer_cli_argv(["-c", str(path)], cwd=cwd)
