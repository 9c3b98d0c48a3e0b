"""Load shapes: a cell's load point (closed loop at a concurrency, open loop at a rate) and the
arrival processes of open loops. Below everything that sends or summarises load."""

from loadgen.load.point import LoadPoint

__all__ = ["LoadPoint"]
