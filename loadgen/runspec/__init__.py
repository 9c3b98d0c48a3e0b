"""The run spec: one declaration of every setting of a run (``loadgen.runspec.model``)."""

from loadgen.runspec.model import RunSpec

__all__ = ["RunSpec"]
