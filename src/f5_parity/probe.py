"""The probe protocol and its discovery.

A probe is a small module in the catalog (`f5_parity.probes`, the repo's probes/ folder) that
defines a module-level ``PROBE = Probe(...)``. Built-in probes and third-party ones (entry-point
group ``f5_parity.probes``) are found the same way and run the same way, like pytest plugins.
A probe declares what it needs; when a need is missing it is reported as skipped, with the reason,
and the run goes on. A catalog module that fails to import is reported, not fatal.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from f5_parity.errors import InputError
from f5_parity.results import ProbeResult, Status

ENTRY_POINT_GROUP = "f5_parity.probes"
CATALOG_PACKAGE = "f5_parity.probes"


@dataclass(frozen=True)
class Probe:
    id: str
    title: str
    group: str  # the command that runs it: "inspect", "run", ...
    check: Callable[["ProbeContext"], ProbeResult]
    needs: tuple[str, ...] = ()
    order: int = 100  # cheap evidence first


@dataclass
class BrokenProbe:
    module: str
    reason: str


@dataclass
class ProbeContext:
    """Resources the command prepared (checkpoint, vocab, texts, ...), looked up by name."""

    resources: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.resources.get(name) is not None

    def __getitem__(self, name: str) -> Any:
        return self.resources[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.resources.get(name)
        return default if value is None else value


@dataclass
class Catalog:
    probes: list[Probe]
    broken: list[BrokenProbe]

    def group(self, name: str) -> list[Probe]:
        return sorted((p for p in self.probes if p.group == name), key=lambda p: (p.order, p.id))


def _probes_in(module: Any) -> Iterable[Probe]:
    found = getattr(module, "PROBE", None)
    if isinstance(found, Probe):
        yield found
    for extra in getattr(module, "PROBES", ()):
        if isinstance(extra, Probe):
            yield extra


def discover() -> Catalog:
    probes: list[Probe] = []
    broken: list[BrokenProbe] = []
    package = importlib.import_module(CATALOG_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"{CATALOG_PACKAGE}.{info.name}"
        try:
            probes.extend(_probes_in(importlib.import_module(name)))
        except Exception as exc:  # a broken probe must not break the CLI
            broken.append(BrokenProbe(name, f"{type(exc).__name__}: {exc}"))
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            probes.extend(_probes_in(ep.load()))
        except Exception as exc:
            broken.append(BrokenProbe(ep.value, f"{type(exc).__name__}: {exc}"))
    ids = [p.id for p in probes]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuntimeError(f"duplicate probe ids in the catalog: {dupes}")
    return Catalog(probes, broken)


def run_probe(probe: Probe, ctx: ProbeContext) -> ProbeResult:
    missing = [n for n in probe.needs if not ctx.has(n)]
    if missing:
        return ProbeResult(probe.id, Status.SKIP, f"skipped: needs {', '.join(missing)}")
    start = time.perf_counter()
    try:
        result = probe.check(ctx)
    except InputError:
        raise  # bad input is the user's to fix: exit 2, not a probe error
    except Exception as exc:
        result = ProbeResult(
            probe.id,
            Status.ERROR,
            f"probe error: {type(exc).__name__}: {exc}",
            evidence={"traceback": traceback.format_exc(limit=8)},
        )
    result.duration_s = time.perf_counter() - start
    return result


def run_group(
    group: str,
    ctx: ProbeContext,
    catalog: Catalog | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    catalog = catalog or discover()
    results = []
    for probe in catalog.group(group):
        result = run_probe(probe, ctx)
        results.append(result)
        if on_result:
            on_result(result)
    return results
