"""What every command promises before it runs: a user's files are never written, and every value it
takes in is one it can use.

Each command's inputs and outputs are listed here (`plan`), checked against each other by file
identity (an output that is an input, or would overwrite one inside an output folder, is refused), and
its numbers, devices and files are validated where they enter (`check_args`). Everything refused
raises InputError: one line, exit 2, before a model is loaded or a file is written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from f5_parity.errors import InputError

SEED_MAX = 2**32 - 1  # torch.manual_seed / numpy's default_rng take 0 .. 2**32-1 here

# What a command writes inside its output folder: files by name, folders ending in '/'. An input there
# would be overwritten; tests/test_hostile_inputs.py checks that a real run writes nothing else.
RUN_WRITES = ("run.json", "report.md", "mels/", "wavs/", "observed/")
DAMAGE_WRITES = ("damage.json", "damage.md", "wavs/", "faults/")
DEMO_WRITES = RUN_WRITES + ("infer_config_v1_flags.yaml", "vocab_permuted.txt")


@dataclass
class Output:
    flag: str  # the option that names it: --json, --junit, --out
    path: Path
    folder: bool = False
    writes: tuple[str, ...] = ()  # for a folder: what is written under it


@dataclass
class Plan:
    inputs: list[tuple[str, Path]] = field(default_factory=list)  # (flag, file or folder read)
    outputs: list[Output] = field(default_factory=list)

    def read(self, flag: str, *paths: str | os.PathLike | None) -> None:
        self.inputs += [(flag, Path(p)) for p in paths if p]

    def write(self, flag: str, path: str | os.PathLike | None, *, folder: bool = False,
              writes: tuple[str, ...] = ()) -> None:
        if not path:
            return
        if not folder and str(path).endswith(("/", os.sep)):
            raise InputError(f"{flag} {path} names a folder", f"give {flag} a file name, e.g. {flag} {Path(path) / 'result'}"
                             + (".xml" if flag == "--junit" else ".json"))
        self.outputs.append(Output(flag, Path(path), folder, writes))


# --- outputs never land on inputs ---------------------------------------------------------------


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _under(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(out: Output) -> None:
    """A file output is not a folder, a folder output is not a file, and the place can be written."""
    p = out.path
    if out.folder:
        if p.exists() and not p.is_dir():
            raise InputError(f"{out.flag} {p} is a file, not a folder", f"give {out.flag} a folder name")
    elif p.is_dir():
        raise InputError(f"{out.flag} points at a folder: {p}", f"pass a file name, e.g. {out.flag} {p / 'result'}"
                         + (".xml" if out.flag == "--junit" else ".json"))
    base = _nearest_existing(p if out.folder else p.parent)
    if not base.is_dir():
        raise InputError(f"{out.flag} {p}: {base} is a file, not a folder", f"give {out.flag} a path in a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"{out.flag} {p}: {base} is not writable", f"give {out.flag} a path you can write to")


def _written_paths(out: Output) -> tuple[list[Path], list[Path]]:
    """(files, folders) this output will write."""
    if not out.folder:
        return [out.path], []
    files = [out.path / w for w in out.writes if not w.endswith("/")]
    folders = [out.path / w.rstrip("/") for w in out.writes if w.endswith("/")]
    return files, folders


def check_no_collision(plan: Plan) -> None:
    """Refuse any output that would replace an input file or write into an input folder's files."""
    inputs = [(flag, p) for flag, p in plan.inputs if p.exists()]
    outs: list[tuple[Output, Path, bool]] = []  # (output, written path, is a folder)
    for out in plan.outputs:
        check_writable(out)
        files, folders = _written_paths(out)
        outs += [(out, f, False) for f in files] + [(out, d, True) for d in folders]
    file_outputs = [(o.flag, o.path) for o in plan.outputs if not o.folder]
    for i, (flag_a, a) in enumerate(file_outputs):  # --json and --junit on the same file
        for flag_b, b in file_outputs[i + 1:]:
            if a.absolute() == b.absolute() or _same(a, b):
                raise InputError(f"{flag_a} and {flag_b} name the same file {a}", "give each output its own file")
    for out, target, is_folder in outs:
        for flag, src in inputs:
            hit = None
            if not is_folder and target.exists():
                if _same(target, src):
                    hit = f"{out.flag} {target} is the input {flag} {src}"
                elif src.is_dir() and _under(target, src):
                    hit = f"{out.flag} would overwrite {target}, inside the input folder {flag} {src}"
            elif is_folder:
                if src.is_file() and _under(src, target):
                    hit = f"{out.flag} {out.path} would overwrite the input {flag} {src} (it writes {target}/)"
                elif src.is_dir() and (_under(src, target) or (target.is_dir() and _under(target, src)
                                                                 and any(target.iterdir()))):
                    hit = f"{out.flag} {out.path} writes {target}/, which holds the input {flag} {src}"
            if hit:
                raise InputError(hit, f"write the outputs somewhere else: pick another {out.flag}")


# --- numbers, devices and files where they enter ------------------------------------------------


def check_int(flag: str, value, *, low: int, high: int | None = None) -> None:
    if value is None:
        return
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise InputError(f"{flag} {value} is out of range", f"give {flag} a whole number {span}")


def check_float(flag: str, value, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise InputError(f"{flag} {value} is not a finite number", f"give {flag} a number such as 1.0")
    if positive and value <= 0:
        raise InputError(f"{flag} {value} must be greater than 0", f"give {flag} a positive number")


def check_device(device: str | None) -> None:
    """cpu, cuda[:N], mps or xpu, and only one this machine has."""
    if not device:
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {device!r} is not a device", "use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: this machine has no usable CUDA GPU", "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here",
                             f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
        return
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"--device {device}: MPS is not available on this machine", "use --device cpu")
        return
    if dev.type == "xpu":
        if not (hasattr(torch, "xpu") and torch.xpu.is_available()):
            raise InputError(f"--device {device}: no XPU on this machine", "use --device cpu")
        return
    raise InputError(f"--device {device!r} is not supported", "use cpu, cuda, cuda:N or mps")


def check_file(flag: str, path: str | None, what: str = "file") -> None:
    """An existing regular file; a folder is named as such, not as a missing file."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        article = "an" if what[0] in "aeiou" else "a"
        raise InputError(f"{flag} {p} is a directory, not {article} {what}", f"give {flag} the {what} itself")
    if not p.exists():
        raise InputError(f"{flag} {p}: no such file", f"check the path of the {what}")


def check_folder(flag: str, path: str | None) -> None:
    if not path:
        return
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{flag} {p} is a file, not a folder", f"give {flag} a folder")
    if not p.exists():
        raise InputError(f"{flag} {p}: no such folder", "check the path")


def check_vocab_text(flag: str, path: str | None) -> None:
    """A vocab is UTF-8 text, one token a line, with no token twice (F5 would silently shift ids)."""
    if not path:
        return
    check_file(flag, path, "vocab.txt")
    from f5_parity.checkpoint.vocab import analyse_vocab

    raw = Path(path).read_bytes()
    if b"\x00" in raw:
        raise InputError(f"{flag} {path} is a binary file, not a vocab", "give the vocab.txt (one token per line)")
    report = analyse_vocab(path)
    if report.error:
        raise InputError(f"{flag} {path} is not a text vocab ({report.error})", "save the vocab as UTF-8, one token per line")
    if report.duplicates:
        d = report.duplicates[0]
        raise InputError(f"{flag} {path} has {len(report.duplicates)} duplicate token(s) ({d['token']!r} at lines "
                         f"{', '.join(str(i + 1) for i in d['ids'])}): F5 keeps the last id and its vocab size is "
                         f"{report.size}, not the {report.lines} lines",
                         "use the exact vocab.txt the model was trained with")


def check_config(flag: str, value: str | None) -> None:
    """An official config name, or a YAML whose model section builds the backbone it names."""
    if not value:
        return
    from f5_parity.f5.configs import official_config_names

    if value in official_config_names():
        return
    p = Path(value)
    if p.is_dir():
        raise InputError(f"{flag} {p} is a directory, not a config", "give a YAML file or an official config name")
    if p.exists():
        head = p.read_bytes()[:4096]
        if b"\x00" in head or head.startswith((b"PK\x03\x04", b"\x80")):
            raise InputError(f"{flag} {p} is a binary file (a checkpoint?), not a YAML config",
                             "give the training YAML, or an official name such as F5TTS_v1_Base")
    from f5_parity.f5.configs import load_config

    model = load_config(value)  # unknown names, missing files, YAML errors: one line each
    check_config_builds(flag, value, model)


def check_config_builds(flag: str, source: str, model: dict) -> None:
    """Build the config's backbone on the meta device: a YAML that cannot make a model is the YAML's fault."""
    import torch

    from f5_parity.f5.configs import MEL_SPEC_KWARGS, backbone_class, backbone_kwargs

    arch = model.get("arch")
    if not isinstance(arch, dict):
        raise InputError(f"{flag} {source}: model.arch is not a mapping", "use f5-tts's configs/*.yaml schema")
    cls = backbone_class(str(model.get("backbone", "DiT")))
    try:
        with torch.device("meta"):
            cls(**backbone_kwargs(str(model.get("backbone", "DiT")), arch), text_num_embeds=8,
                mel_dim=MEL_SPEC_KWARGS["n_mel_channels"])
    except InputError:
        raise
    except Exception as exc:  # TypeError/ValueError/...: whatever the class says about these arguments
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{flag} {source}: its model.arch cannot build a {cls.__name__} ({detail})",
                         "fix the YAML's model.arch (compare f5-tts's configs/*.yaml)") from None


def check_vocoder_folder(path: str | None) -> None:
    """A local vocoder folder: config.yaml plus weights loadable without executing a pickle."""
    if not path:
        return
    check_folder("--vocoder-path", path)
    folder = Path(path)
    if not (folder / "config.yaml").is_file():
        raise InputError(f"no config.yaml in the vocoder folder {folder}",
                         "point --vocoder-path at a folder holding config.yaml and pytorch_model.bin")
    weights = folder / "pytorch_model.bin"
    if not weights.is_file():
        return  # load_vocoder names what it misses
    import pickle

    import torch

    with open(weights, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # torch's zip format can be memory-mapped; a legacy pickle not
    try:
        torch.load(weights, map_location="meta", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError:
        raise InputError(f"{weights} is a pickle that needs more than tensors to load: refused, not executed",
                         "re-save the vocoder with torch.save(model.state_dict(), ...)") from None
    except Exception as exc:
        raise InputError(f"{weights} is not a readable weights file ({type(exc).__name__})",
                         "give the vocoder's pytorch_model.bin") from None


def _check_seed(args) -> None:
    check_int("--seed", getattr(args, "seed", None), low=0, high=SEED_MAX)


def _check_run(args) -> None:
    _check_seed(args)
    check_int("--nfe-step", args.nfe_step, low=1)
    check_float("--cfg-strength", args.cfg_strength)
    check_float("--sway-sampling-coef", args.sway_sampling_coef)
    check_float("--speed", args.speed, positive=True)
    check_float("--fix-duration", args.fix_duration, positive=True)
    check_int("--sample-update", args.sample_update, low=0)
    check_device(args.device)
    if (args.ref_text or args.gen_text) and not args.ref_audio:
        raise InputError("--ref-text/--gen-text given without --ref-audio",
                         "give the reference wav with --ref-audio (one per --ref-text)")
    for flag, path in (("--cases", args.cases), ("--infer-cli-config", args.infer_cli_config)):
        check_file(flag, path)
    for path in args.ref_audio:
        check_file("--ref-audio", path, "audio file")
    for flag in ("--dataset", "--samples"):
        check_folder(flag, getattr(args, flag[2:]))
    check_file("checkpoint", args.checkpoint, "checkpoint file")
    check_vocab_text("--train-vocab", args.train_vocab)
    check_vocab_text("--infer-vocab", args.infer_vocab)
    check_config("--train-config", args.train_config)
    check_config("--infer-config", args.infer_config)
    if args.vocoder != "griffin-lim":
        check_vocoder_folder(args.vocoder_path)
    if args.infer_cli:
        _check_infer_cli(args.infer_cli)


def _check_infer_cli(command_line: str) -> None:
    """The files an infer_cli line names must exist, as infer_cli itself would need them."""
    from f5_parity.f5.infercli import parse_infer_cli

    cli = parse_infer_cli(command_line)
    if cli.checkpoint_given and "://" not in cli.checkpoint and not Path(cli.checkpoint).is_file():
        raise InputError(f"--infer-cli's -p {cli.checkpoint}: no such file",
                         "give infer_cli the checkpoint path you infer with (infer_cli would fail on it)")
    if cli.vocab_file and "://" not in cli.vocab_file and not Path(cli.vocab_file).is_file():
        raise InputError(f"--infer-cli's -v {cli.vocab_file}: no such file", "give infer_cli the vocab.txt you infer with")
    for flag, value, low in (("--nfe_step", cli.nfe_step, 1),):
        if value < low:
            raise InputError(f"--infer-cli's {flag} {value} is out of range", f"give {flag} >= {low}")
    for flag, value in (("--cfg_strength", cli.cfg_strength), ("--sway_sampling_coef", cli.sway_sampling_coef)):
        if not math.isfinite(value):
            raise InputError(f"--infer-cli's {flag} {value} is not a finite number", f"give {flag} a number")
    if not (math.isfinite(cli.speed) and cli.speed > 0):
        raise InputError(f"--infer-cli's --speed {cli.speed} must be a positive number", "give --speed > 0")


def _check_fingerprint(args) -> None:
    _check_seed(args)
    check_int("--draws", args.draws, low=1)
    check_int("--cases", args.cases, low=1)
    check_device(args.device)
    check_file("checkpoint", args.checkpoint, "checkpoint file")
    if args.ref_text and not args.ref_audio:
        raise InputError("--ref-text given without --ref-audio", "give the reference wav with --ref-audio")
    for v in args.vocab:
        check_vocab_text("--vocab", v)
    check_folder("--dataset", args.dataset)
    for path in args.ref_audio:
        check_file("--ref-audio", path, "audio file")


def _check_inspect(args) -> None:
    check_file("CHECKPOINT", args.checkpoint, "checkpoint file")
    for flag, path in (("--vocab", args.vocab), ("--train-vocab", args.train_vocab)):
        check_file(flag, path, "vocab.txt")
        if path and b"\x00" in Path(path).read_bytes():
            raise InputError(f"{flag} {path} is a binary file, not a vocab", "give the vocab.txt (one token per line)")
    if args.config:
        p = Path(args.config)
        if p.is_dir():
            raise InputError(f"--config {p} is a directory, not a config", "give a YAML file or an official config name")
        if p.is_file() and b"\x00" in p.read_bytes()[:4096]:
            raise InputError(f"--config {p} is a binary file (a checkpoint?), not a YAML config",
                             "give the training YAML, or an official name such as F5TTS_v1_Base")


def _check_score(args) -> None:
    check_device(args.device)  # the wavs themselves: read_audio names each problem


def _check_demo_or_damage(args) -> None:
    _check_seed(args)
    check_int("--cases", args.cases, low=1)


CHECKS = {"run": _check_run, "fingerprint": _check_fingerprint, "inspect": _check_inspect, "score": _check_score,
          "demo": _check_demo_or_damage, "damage": _check_demo_or_damage}


def check_args(args) -> None:
    """The values of a parsed command line, each refused with one line when unusable."""
    check = CHECKS.get(getattr(args, "command", None))
    if check:
        check(args)


# --- what each command reads and writes ---------------------------------------------------------


def _config_path(value: str | None) -> str | None:
    return value if value and Path(value).exists() else None


def _infer_cli_files(command_line: str | None) -> list[str]:
    if not command_line:
        return []
    from f5_parity.f5.infercli import parse_infer_cli

    cli = parse_infer_cli(command_line)
    files = [cli.checkpoint if cli.checkpoint_given else None, cli.vocab_file,
             cli.model_cfg if cli.model_cfg_given else None, cli.ref_audio, cli.vocoder_local_path]
    return [f for f in files if f and "://" not in f]


def _wrapper_file(target: str | None) -> str | None:
    if not target or ":" not in target:
        return None
    module = target.rsplit(":", 1)[0]
    return module if module.endswith(".py") else None


def _bundled_fixture() -> Path:
    from f5_parity.testing.demo import fixture_dir

    return fixture_dir()


def plan(args) -> Plan:
    """Every file and folder the command reads, and every path it writes."""
    p = Plan()
    command = getattr(args, "command", None)
    if command == "inspect":
        p.read("CHECKPOINT", args.checkpoint)
        p.read("--vocab", args.vocab)
        p.read("--train-vocab", args.train_vocab)
        p.read("--config", _config_path(args.config))
        p.write("--json", args.json)
    elif command == "score":
        p.read("WAV", *args.wavs)
        p.write("--json", args.json)
    elif command == "fingerprint":
        p.read("checkpoint", args.checkpoint)
        p.read("--vocab", *args.vocab)
        p.read("--dataset", args.dataset)
        p.read("--ref-audio", *args.ref_audio)
        p.write("--json", args.json)
    elif command == "run":
        p.read("checkpoint", args.checkpoint)
        p.read("--train-config", _config_path(args.train_config))
        p.read("--infer-config", _config_path(args.infer_config))
        p.read("--train-vocab", args.train_vocab)
        p.read("--infer-vocab", args.infer_vocab)
        p.read("--infer-cli-config", args.infer_cli_config)
        p.read("--infer-cli", *_infer_cli_files(args.infer_cli))
        p.read("--infer-path", _wrapper_file(args.infer_path))
        p.read("--vocoder-path", args.vocoder_path)
        p.read("--ref-audio", *args.ref_audio)
        p.read("--cases", args.cases)
        if args.cases and Path(args.cases).is_file():
            from f5_parity.cases.case import load_cases

            p.read("--cases", *[c.ref_audio for c in load_cases(args.cases)])
        p.read("--infer-script", getattr(args, "infer_script", None))
        p.read("--dataset", args.dataset)
        p.read("--samples", args.samples)
        p.write("--out", args.out, folder=True, writes=RUN_WRITES)
        p.write("--json", args.json)
        p.write("--junit", args.junit)
    elif command == "damage":
        p.read("the bundled fixture", _bundled_fixture())
        p.write("--out", args.out, folder=True, writes=DAMAGE_WRITES)
    elif command == "demo":
        p.read("the bundled fixture", _bundled_fixture())
        p.write("--out", args.out, folder=True, writes=DEMO_WRITES)
        p.write("--junit", args.junit)
    return p


def output_roots(args) -> list[Path]:
    """Folders a command may create: removed again when it fails and they hold nothing."""
    roots = [Path(o.path) for o in plan_outputs(args) if o.folder]
    if getattr(args, "command", None) == "run" and not args.out:
        roots.append(Path("reports"))
    return roots


def plan_outputs(args) -> list[Output]:
    out = Plan()
    command = getattr(args, "command", None)
    if command == "run":
        out.write("--out", args.out, folder=True, writes=RUN_WRITES)
    elif command in ("damage", "demo"):
        out.write("--out", args.out, folder=True)
    return out.outputs
