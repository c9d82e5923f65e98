"""CLI subcommands, one module each, discovered like probes.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``execute(args, console) -> int``.
Only this package and cli.py print; the engine below returns data.
"""
