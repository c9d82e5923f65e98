"""What every command promises before it runs: a user's files are never written, and every value it
takes in is one it can use.

The checks every request of engine/requests.py is built from: its inputs and outputs (a `Plan`) are
checked against each other by file identity (an output that is an input, or would overwrite one inside
an output folder, is refused), and its numbers, devices and files are validated where they enter.
Everything refused raises InputError: one line, exit 2 at the CLI, before a model is loaded or a file
is written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from f5_parity.errors import InputError

SEED_MAX = 2**32 - 1  # torch.manual_seed / numpy's default_rng take 0 .. 2**32-1 here

# What a command writes inside its output folder: files by name, folders ending in '/'. An input there
# would be overwritten; tests/test_hostile_inputs.py checks that a real run writes nothing else.
RUN_WRITES = ("run.json", "report.md", "mels/", "wavs/", "observed/")
# sweep: its report, plots, per-checkpoint run.json and wavs, the cache it resumes from, the observed path
SWEEP_WRITES = ("sweep.json", "sweep.md", "plots/", "checkpoints/", "wavs/", "cache/", "observed/")
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
    # Then a new file or folder inside a folder the command reads (a run folder a live training writes
    # into, a dataset, the bundled fixture): refused too, not only an overwrite. Checked after the rules
    # above, so an output that replaces or holds an input is named as such.
    for out, target, is_folder in outs:
        for flag, src in inputs:
            if src.is_dir() and _under(target, src):
                raise InputError(f"{out.flag} {target if not is_folder else out.path} would land inside the input "
                                 f"folder {flag} {src}", f"write the outputs somewhere else: pick another {out.flag}")


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


def check_infer_cli(cli) -> None:
    """The files an infer_cli line names must exist, as infer_cli itself would need them (`cli`: the line,
    parsed once by the request)."""
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


def infer_cli_files(cli) -> list[str]:
    """The local files a parsed infer_cli line reads (its inputs: never an output)."""
    files = [cli.checkpoint if cli.checkpoint_given else None, cli.vocab_file,
             cli.model_cfg if cli.model_cfg_given else None, cli.ref_audio, cli.vocoder_local_path]
    return [f for f in files if f and "://" not in f]
