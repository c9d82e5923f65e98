"""The engine entry: typed requests (engine/requests.py), validated (engine/guard.py) and assembled
(engine/assemble.py, engine/sweep.py) into a run, one function per command (engine/run.py).

Every front end goes through here: the CLI turns flags into a request, the Python API (f5_parity.api)
turns arguments into one. Nothing in the engine prints or exits: bad input raises InputError(problem,
fix), results are typed values, files are written through render/.
"""

from f5_parity.engine.requests import (DamageRequest, DemoRequest, FingerprintRequest, InspectRequest, Request,
                                       RunRequest, ScoreRequest, SweepRequest)

__all__ = ["DamageRequest", "DemoRequest", "FingerprintRequest", "InspectRequest", "Request", "RunRequest",
           "ScoreRequest", "SweepRequest"]
