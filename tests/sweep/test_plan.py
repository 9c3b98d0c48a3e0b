from pathlib import Path

import pytest
import yaml

from loadgen.sweep.plan import PlanError, SweepPlan, load_plan

REPO = Path(__file__).resolve().parents[2]
PLANS = sorted((REPO / "docs" / "plans").glob("*.yaml"))

BASE = {
    "name": "t",
    "model": "m",
    "data": "prepared",
    "servers": [{"variant": "vllm-cpu-base"}, {"variant": "vllm-cpu-ngram"}],
    "buckets": ["1k"],
    "concurrencies": [1, 4],
    "requests": 8,
}


def write(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.mark.parametrize("path", PLANS, ids=[p.name for p in PLANS])
def test_every_shipped_plan_parses_and_pairs_its_servers(path: Path) -> None:
    plan = load_plan(path)
    servers = plan.resolved_servers()
    assert any(s.baseline for s in servers), "a plan compares at least one SD variant"


def test_shipped_plans_exist() -> None:
    assert len(PLANS) >= 3


def test_unknown_key_is_an_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="concurrency"):
        load_plan(write(tmp_path, {**BASE, "concurrency": [1]}))


def test_sd_variant_without_its_baseline_is_refused(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, {**BASE, "servers": [{"variant": "vllm-cpu-ngram"}]}))
    with pytest.raises(PlanError, match=r"baseline 'vllm-cpu-base'.*not in the plan"):
        plan.resolved_servers()


def test_url_server_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="needs a `name`"):
        load_plan(write(tmp_path, {**BASE, "servers": [{"url": "http://127.0.0.1:1"}]}))


def test_cells_get_disjoint_prompt_slices_after_the_warmup() -> None:
    plan = SweepPlan.model_validate({**BASE, "repeats": 2, "warmup": 3})
    starts = sorted(plan.prompt_start(r, i) for r in range(2) for i in range(2))
    assert starts == [3, 11, 19, 27]
    assert plan.prompts_per_bucket() == 3 + 4 * 8


def test_digest_changes_with_any_setting() -> None:
    a = SweepPlan.model_validate(BASE)
    assert a.digest() == SweepPlan.model_validate(dict(BASE)).digest()
    assert a.digest() != SweepPlan.model_validate({**BASE, "osl": 64}).digest()
