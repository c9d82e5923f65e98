"""What `parity-check demo` and `parity-check damage` ship: the bundled trained fixture (fixtures/ptbr-tiny), the
demo's broken infer side, the single infer-side faults and the damage table built from them. A part of the
product, apart from the test kit (f5_parity.testing), which the engine never imports."""
