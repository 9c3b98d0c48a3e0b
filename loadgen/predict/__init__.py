"""``speedbench predict``: a small physical serving model fitted from a sweep's per-request records,
simulated to answer what was not measured (speedup, latency, SLO capacity), and checked on held-out
cells."""
