"""f5-parity: train/infer parity diagnostics for F5-TTS checkpoints.

Use it from Python (each function has a short example in its help)::

    import f5_parity

    report = f5_parity.check("ckpts/my_run/model_300.pt", train_config="F5TTS_v1_Base",
                             infer_cli="f5-tts_infer-cli -p ckpts/my_run/model_300.pt -v data/vocab.txt")
    print(report.passed, report.culprits)

check, sweep, inspect, fingerprint, score and export raise InputError(problem, fix) on bad input and never exit;
`parity-check` is the same engine from the shell (exit codes: ExitCode).

Layers, top to bottom (pyproject.toml [tool.importlinter] enforces them; a module imports only below it):
cli (flags into requests, the only layer that prints or exits) > api (this package's functions) > engine
(typed requests, their validation, the assembly of a run) > testing (fixtures, the benchmarks' kits) > demo
(the bundled fixture, faults, damage) > render (run.json, report.md, JUnit, terminal) > sweeps (a training
run, checkpoint by checkpoint) > parity (session, stages compared, isolation, gate) > observe (what the
user's path really did) > ports (an ONNX port's graphs, each recomputed from the checkpoint) > paths (the trainer
and infer paths) > cases > checkpoint > scoring > f5 (every f5-tts fact) > probe, files, compare > results, errors.
"""

import importlib

from f5_parity.errors import ExitCode, InputError

__version__ = "0.1.0"

__all__ = ["check", "sweep", "inspect", "fingerprint", "score", "export", "InputError", "ExitCode", "__version__"]
_API = ("check", "sweep", "inspect", "fingerprint", "score", "export")


def __getattr__(name: str):
    # The API is loaded on first use, by name: `import f5_parity` stays cheap (no torch, no f5-tts), and
    # the lower layers that read f5_parity.__version__ do not import the engine through this package.
    if name in _API:
        return getattr(importlib.import_module("f5_parity.api"), name)
    raise AttributeError(f"module 'f5_parity' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
