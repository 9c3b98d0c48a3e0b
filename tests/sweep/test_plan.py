from pathlib import Path

import pytest
import yaml

from loadgen.sweep.plan import PlanError, PlanServer, SweepPlan, load_plan

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
    assert len(PLANS) >= 4
    assert any(load_plan(p).rates for p in PLANS), "an example of open-loop rates"


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


def test_open_loop_rates_are_load_points_after_the_concurrencies() -> None:
    plan = SweepPlan.model_validate(
        {**BASE, "rates": [0.5, 4], "arrivals": "gamma", "burstiness": 0.5, "max_in_flight": 16}
    )
    assert [p.label for p in plan.load_points()] == [
        "c=1", "c=4", "rate=0.5/s gamma b=0.5", "rate=4.0/s gamma b=0.5"
    ]  # fmt: skip
    assert [p.slug for p in plan.load_points()][2:] == ["rate0.5-gamma0.5", "rate4.0-gamma0.5"]
    assert [plan.users(p) for p in plan.load_points()] == [1, 4, 16, 16]
    assert plan.prompts_per_bucket() == 2 + 4 * 8  # every load point gets its own slice
    rates_only = SweepPlan.model_validate({**BASE, "concurrencies": [], "rates": [2]})
    [point] = rates_only.load_points()
    assert point.label == "rate=2.0/s" and point.arrivals == "poisson"
    assert rates_only.users(point) == 8  # default cap: every request of the cell may be in flight


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"concurrencies": []}, "no load points"),
        ({"rates": [0]}, "rates.0"),
        ({"rates": [-2.5]}, "rates.0"),
        ({"rates": [1, 1]}, "repeats a value"),
        ({"rates": [1], "burstiness": 0.5}, "gamma arrivals only"),
        ({"rates": [1], "arrivals": "poisson", "burstiness": 2}, "gamma arrivals only"),
        ({"arrivals": "gamma"}, "needs `rates`"),
        ({"max_in_flight": 4}, "needs `rates`"),
        ({"rates": [1], "arrivals": "uniform"}, "arrivals"),
    ],
)
def test_open_loop_settings_are_validated(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        load_plan(write(tmp_path, {**BASE, **changes}))


# Digests of BASE as written by the plan module before the run spec (commit 6d5a76c): results
# directories of those plans must still resume, so these are literals, not recomputed here.
DIGEST_BASE = "de8c1cc695687bfab64ca83ecdfeb18eda5e4d61fdb02245a0cd7cd4a9d4e017"
DIGEST_RATES_1 = "c435b5e362e50f0c461ed7a85b30314b8a6717f208fa573a20d52686ca3d86f6"


def test_digest_of_an_old_plan_is_unchanged_by_settings_added_later() -> None:
    """Results directories of plans written before open-loop rates and the run-spec settings
    still resume; a later setting, once set, changes the digest."""
    plan = SweepPlan.model_validate(BASE)
    assert plan.digest() == DIGEST_BASE
    assert SweepPlan.model_validate({**BASE, "rates": []}).digest() == DIGEST_BASE
    assert SweepPlan.model_validate({**BASE, "rates": [1]}).digest() == DIGEST_RATES_1
    assert SweepPlan.model_validate({**BASE, "request_timeout_s": 600}).digest() == DIGEST_BASE
    assert SweepPlan.model_validate({**BASE, "transport": "fast"}).digest() != DIGEST_BASE
    servers = [{"variant": "vllm-cpu-base", "prometheus_url": "http://p:9090"}, BASE["servers"][1]]
    assert SweepPlan.model_validate({**BASE, "servers": servers}).digest() != DIGEST_BASE


def test_requests_per_user_scales_closed_loop_cells_and_their_prompt_slices() -> None:
    plan = SweepPlan.model_validate(
        {**BASE, "concurrencies": [1, 4], "rates": [2], "requests": 6, "requests_per_user": 4,
         "warmup": 2, "repeats": 2}
    )  # fmt: skip
    sizes = [plan.requests_for(p) for p in plan.load_points()]
    assert sizes == [6, 16, 6]  # max(requests, 4 x c); a rate keeps `requests`
    starts = [plan.prompt_start(r, i) for r in range(2) for i in range(3)]
    assert starts == [2, 8, 24, 30, 36, 52] and plan.prompts_per_bucket() == 2 + 2 * 28


@pytest.mark.parametrize(
    ("server", "metrics_url"),
    [
        ({"url": "http://h:1/", "engine": "trtllm"}, "http://h:1/prometheus/metrics"),
        ({"url": "http://h:1", "engine": "sglang"}, "http://h:1/metrics"),
        ({"url": "http://h:1"}, "http://h:1/metrics"),  # the default engine, vLLM
        ({"url": "http://h:1", "engine": "trtllm", "metrics_url": "http://m/x"}, "http://m/x"),
        ({"url": "http://h:1", "engine": "trtllm", "no_metrics": True}, None),
        ({"variant": "trtllm-eagle"}, "http://h:1/prometheus/metrics"),
    ],
)
def test_a_server_is_scraped_at_its_engine_s_metrics_path(
    server: dict, metrics_url: str | None
) -> None:
    resolved = PlanServer.model_validate({"name": "s", **server}).resolved()
    assert resolved.metrics_url_at("http://h:1") == metrics_url


URL_SERVER = {"name": "s", "url": "http://127.0.0.1:8000"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"osl": True}, "field 'osl': Input should be a valid integer"),
        ({"port": -5}, "field 'port': Input should be greater than or equal to 1"),
        ({"port": 70000}, "field 'port': Input should be less than or equal to 65535"),
        ({"requests": "8"}, "field 'requests': Input should be a valid integer"),
        ({"servers": [{**URL_SERVER, "no_metrics": "yes"}]}, "should be a valid boolean"),
        ({"servers": [{**URL_SERVER, "name": "../../x"}]}, "a server name '../../x' names a dir"),
        ({"servers": [{"variant": "../vllm-cpu-base"}]}, "a server name '../vllm-cpu-base'"),
        ({"buckets": ["../1k"]}, "a bucket '../1k' names a directory under --out"),
        ({"servers": [{"name": "s", "url": "127.0.0.1:8000"}]}, "needs a scheme and a host"),
        (
            {"servers": [{"name": "s", "url": "http://u:hunter2@h:1"}]},
            "'http://u:<redacted>@h:1' holds credentials",
        ),
    ],
)
def test_plan_values_are_strict_and_names_are_safe_path_components(
    tmp_path: Path, changes: dict, message: str
) -> None:
    """Issue 17 items 7 and 12: refused at load, naming the field and the fix; never echoing a
    password."""
    with pytest.raises(PlanError) as refused:
        load_plan(write(tmp_path, {**BASE, **changes}))
    assert message in str(refused.value) and "hunter2" not in str(refused.value)
