"""The result files' schemas: published, validated on read, older files migrated, newer refused;
and ``loadgen.results.load`` over FAKE cells (tests/fakes/cells.py) in a sweep's layout."""

import json
from pathlib import Path

import pytest

from loadgen import results
from loadgen.results.io import ResultsFileError, read_cell_manifest, read_cell_summary
from loadgen.results.schemas import json_schemas
from tests.fakes.cells import FakeServer, write_results

SCHEMA_DIR = Path(__file__).parents[2] / "docs" / "schemas"


def test_published_json_schemas_are_current() -> None:
    expected = json_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == expected, "docs/schemas is stale: run python -m loadgen.results.schemas"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    servers = [FakeServer("base"), FakeServer("sd", "base", speculative="eagle", draft_tokens=3)]
    return write_results(tmp_path_factory.mktemp("res"), servers, ["1k"], [1, 4], requests=12)


def test_load_gives_typed_cells_and_frames(fake: Path) -> None:
    loaded = results.load(fake)
    assert len(loaded.cells) == 4 and loaded.manifest is not None
    sd = [c for c in loaded.cells if c.summary.server == "sd"]
    assert all(c.baseline == "base" and c.summary.acceptance.drafts for c in sd)
    cells = loaded.cells_frame()
    assert list(cells["load.label"].sort_values()) == ["c=1", "c=1", "c=4", "c=4"]
    requests = loaded.requests_frame()
    assert len(requests) == 4 * 12 and set(requests["server"]) == {"base", "sd"}
    # the frame's figures are the summary's (one definition: loadgen.client.figures)
    one = loaded.cells[0]
    mine = requests[requests["cell"] == str(one.path.relative_to(fake))]
    assert mine["ttft_ms"].mean() == pytest.approx(one.summary.ttft_ms.mean)
    steps = mine["steps"].sum()
    assert (mine["tokens_per_chunk"] * mine["steps"]).sum() / steps == pytest.approx(
        one.summary.client_tokens_per_chunk
    )
    assert mine["accepted_tokens"].sum() == one.summary.client_accepted_tokens
    assert loaded.speedups_frame().empty  # no report built yet


def cell_dir(fake: Path) -> Path:
    return next(p.parent for p in sorted(fake.rglob("requests.parquet")))


def test_files_from_before_the_schemas_are_migrated(tmp_path: Path, fake: Path) -> None:
    cell = cell_dir(fake)
    summary = json.loads((cell / "summary.json").read_text())
    manifest = json.loads((cell / "manifest.json").read_text())
    del summary["schema_version"], manifest["schema_version"]
    old_cell = {k: v for k, v in manifest["run"].items() if k not in ("metrics_urls", "no_metrics")}
    old_cell |= {"metrics_url": "http://m/metrics", "replica_metrics_urls": ["http://r/metrics"]}
    old_manifest = {"cell": old_cell, "locust_command": ["locust"], "started_wall": 1.0}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "manifest.json").write_text(json.dumps(old_manifest))
    assert read_cell_summary(tmp_path).schema_version == 1
    run = read_cell_manifest(tmp_path).run  # ``cell`` became ``run``, a typed run spec
    assert run.metrics_urls == ("http://m/metrics", "http://r/metrics") and not run.no_metrics
    assert run.server == manifest["run"]["server"] and run.warmup == 0


def test_a_newer_file_is_refused_with_the_fix(tmp_path: Path, fake: Path) -> None:
    summary = json.loads((cell_dir(fake) / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps(summary | {"schema_version": 2}))
    with pytest.raises(ResultsFileError, match=r"schema_version 2.*upgrade speedbench"):
        read_cell_summary(tmp_path)


def test_an_invalid_file_names_the_fields_at_fault(tmp_path: Path, fake: Path) -> None:
    summary = json.loads((cell_dir(fake) / "summary.json").read_text())
    del summary["requests_ok"]
    (tmp_path / "summary.json").write_text(json.dumps(summary | {"requests_okay": 3}))
    with pytest.raises(ResultsFileError, match=r"requests_ok: Field required.*requests_okay"):
        read_cell_summary(tmp_path)
