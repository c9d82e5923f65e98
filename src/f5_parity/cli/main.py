"""`parity-check`: the only layer that prints or exits.

Each command turns its flags into a request of the engine (f5_parity.engine.requests), validated here
before the command runs; the command hands it to the engine and renders what comes back.

Exit codes (f5_parity.errors.ExitCode): 0 pass, 1 parity/gate failed, 2 usage or input error, 3 internal
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import shutil
import sys
import warnings
from pathlib import Path

from f5_parity.engine.environment import private_tempdir
from f5_parity.errors import ExitCode, InputError

# The names older code and tests use; the values are ExitCode's.
EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = (
    ExitCode.OK, ExitCode.FAILED, ExitCode.INPUT_ERROR, ExitCode.INTERNAL_ERROR, ExitCode.INTERRUPTED)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; its message is one line pointing at --help, not the usage."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_INPUT, f"parity-check: error: {message} (see `{self.prog} --help`)\n")


def _commands():
    from f5_parity.cli import commands

    found = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "execute"):
            found[module.NAME] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    from f5_parity import __version__

    parser = _Parser(prog="parity-check", description="Train/infer parity diagnostics for F5-TTS checkpoints.")
    parser.add_argument("--version", action="version", version=f"f5-parity {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.subcommands = {}
    for name, module in _commands().items():
        p = parser.subcommands[name] = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", help="show tracebacks")
        module.add_arguments(p)
        p.set_defaults(_execute=module.execute)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    parser = build_parser()
    argv, after = _split_script_args(list(sys.argv[1:] if argv is None else argv))
    try:
        args, extra = parser.parse_known_args(argv)
        sub = parser.subcommands.get(getattr(args, "command", None), parser)
        if extra:  # said by the subcommand's parser, so the pointer is to its --help
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
        if after is not None:
            if not hasattr(args, "infer_script"):
                sub.error(f"arguments after `--` ({' '.join(after) or 'none'}): only run and sweep take them, "
                          "for --infer-script")
            args.script_args = after
    except SystemExit as exc:  # --help/--version (0) or a usage error (2, its line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    if not getattr(args, "_execute", None):
        parser.print_help()
        return EXIT_INPUT
    created: list[Path] = []
    rc = EXIT_INTERNAL
    try:
        with _library_warnings(args.debug), private_tempdir():
            from f5_parity.engine.requests import REQUESTS

            args.request = REQUESTS[args.command].from_values(vars(args))
            args.request.validate()  # bad input: one line, before a model loads or a file is written
            created = [p for p in args.request.output_folders() if not p.exists()]
            rc = int(args._execute(args, console))
            return rc
    except InputError as exc:
        rc = EXIT_INPUT
        if args.debug:
            raise
        errors.print(f"[bold red]error:[/] {exc.line()}", soft_wrap=True)
        return EXIT_INPUT
    except KeyboardInterrupt:
        rc = EXIT_INTERRUPTED
        errors.print("interrupted")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # something below the CLI (a user's wrapper or script) called sys.exit
        rc = EXIT_FAIL
        if args.debug:
            import traceback

            traceback.print_exc()
        errors.print(f"[bold red]failed:[/] code run by `{args.command}` called sys.exit({exc.code!r}) before the "
                     "command finished; no report was written (rerun with --debug for the traceback)", soft_wrap=True)
        return EXIT_FAIL
    except Exception as exc:
        rc = EXIT_INTERNAL
        if args.debug:
            raise
        errors.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {_first_line(exc)} (rerun with --debug for the traceback)",
            soft_wrap=True,
        )
        return EXIT_INTERNAL
    finally:
        if rc != EXIT_PASS:
            for folder in created:
                _remove_if_empty(folder)


def _split_script_args(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """`run CKPT [options] --infer-script my_infer.py -- --text 'Olá'`: everything after the first `--` is
    the user's script's own command line, whatever it looks like, in the order users write it (argparse
    would match it against parity-check's flags, or reject the `--`)."""
    if "--" not in argv:
        return argv, None
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


@contextlib.contextmanager
def _library_warnings(debug: bool):
    """torch's and other libraries' warnings are not the user's errors: shown with --debug only."""
    with warnings.catch_warnings():
        if debug:
            warnings.simplefilter("default")

            def to_stderr(message, category, filename, lineno, file=None, line=None):
                sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

            warnings.showwarning = to_stderr  # restored by catch_warnings
        else:
            warnings.simplefilter("ignore")
        yield


def _remove_if_empty(folder: Path) -> None:
    """A folder this command created and then failed to fill: removed, when no file was written into it."""
    if not folder.is_dir():
        return
    if any(p.is_file() or p.is_symlink() for p in folder.rglob("*")):
        return
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
