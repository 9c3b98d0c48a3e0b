"""The host description's CPU: the model name alone hid a >10x difference in prefill speed."""

from pathlib import Path

from loadgen.hostinfo import VECTOR_ISA, cpu_label, cpu_vector_isa, host_description

ZEN4 = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512_bf16 avx512_vnni
"""
SAPPHIRE = (
    "model name\t: Intel Xeon\nflags\t: avx2 fma avx512f avx512_fp16 amx_tile amx_bf16 amx_int8\n"
)


def test_the_vector_isa_is_read_from_the_flags_in_a_fixed_order() -> None:
    assert cpu_vector_isa(ZEN4) == ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"]
    assert cpu_vector_isa(SAPPHIRE) == [
        "avx2", "fma", "avx512f", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
    ]  # fmt: skip
    assert cpu_vector_isa("flags\t: fpu sse2\n") == []
    assert cpu_vector_isa("model name\t: no flags line\n") is None  # unknown, not "none"


def test_this_machine_is_described_with_its_isa() -> None:
    host = host_description()
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    flags = next(line for line in lines if line.startswith("flags")).split()
    assert host["cpu_isa"] == [f for f in VECTOR_ISA if f in flags]
    assert cpu_label(host).startswith(host["cpu"] + " (")
    assert cpu_label({"cpu": "x", "cpu_isa": []}) == "x (no AVX2)"
    assert cpu_label({"cpu": "x"}) == "x"  # a manifest from before the field
