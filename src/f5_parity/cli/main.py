"""`parity-check`: the only layer that prints or exits.

Exit codes: 0 pass, 1 parity/gate failed, 2 usage or input error, 3 internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from f5_parity.errors import InputError

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line plus usage."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"parity-check: error: {message}\n")


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
    for name, module in _commands().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", help="show tracebacks")
        module.add_arguments(p)
        p.set_defaults(_execute=module.execute)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_execute", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        return int(args._execute(args, console))
    except InputError as exc:
        if args.debug:
            raise
        errors.print(f"[bold red]error:[/] {exc.line()}", soft_wrap=True)
        return EXIT_INPUT
    except KeyboardInterrupt:
        errors.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        errors.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            soft_wrap=True,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
