"""The probe catalog: one module per probe, each defining ``PROBE = f5_parity.probe.Probe(...)``.

Shipped inside the wheel as ``f5_parity.probes``; the engine discovers every module here.
"""
