"""A sweep's results directory before any cell runs: its manifest opened, its data checked."""

from __future__ import annotations

import json
from pathlib import Path

from loadgen.data.prepared import PreparedSet
from loadgen.hostinfo import host_description
from loadgen.modelinfo import model_hashes
from loadgen.preflight import check_prompts
from loadgen.results.io import MANIFEST_FILE, read_sweep_manifest
from loadgen.results.schemas import SweepManifest
from loadgen.sweep.extend import adopt, now
from loadgen.sweep.plan import PlanError, SweepPlan
from loadgen.sweep.provenance import harness_version
from loadgen.sweep.slices import PromptSlices


def open_manifest(plan: SweepPlan, out: Path, data_dir: Path) -> SweepManifest:
    """The existing manifest of this plan (extended if the plan only adds cells), or a new one;
    a different plan is refused."""
    path = out / MANIFEST_FILE
    if path.is_file() and json.loads(path.read_text()).get("kind") not in ("sweep", "demo"):
        raise PlanError(
            f"{out} holds a single cell's results (speedbench run), not a sweep's: give "
            "--out a new directory"
        )
    manifest = read_sweep_manifest(out)
    if manifest is not None:
        adopt(plan, manifest, str(out))
        return manifest
    prepared = PreparedSet.read(data_dir).manifest
    return SweepManifest(
        kind="sweep",
        plan=plan.model_dump(mode="json"),
        plan_sha256=plan.digest(),
        harness={
            "version": harness_version(),
            "git_revision": host_description()["git_revision"],
        },
        host=host_description(),
        model=model_hashes(plan.model),
        data={"dir": str(data_dir), **{k: v for k, v in prepared.items() if k != "isl_stats"}},
        servers={},
        prompts=PromptSlices.laid_out(plan).to_json(),
        plan_history=[{"sha256": plan.digest(), "event": "created", "at": now()}],
    )


def check_data(plan: SweepPlan, data_dir: Path, need: int) -> None:
    """Every bucket has the ``need`` prompts the sweep's slices reach, each one well formed."""
    prepared = PreparedSet.read(data_dir)
    for bucket in plan.buckets:
        have = len(prepared.bucket(bucket))
        if have < need:
            raise PlanError(
                f"bucket {bucket!r} of {data_dir} has {have} prompts; the plan needs {need} "
                "(warmup + repeats x load points x requests, every prompt used once): lower "
                "requests/repeats or prepare more rows"
            )
        check_prompts(prepared.bucket(bucket)[:need], data_dir)  # before any server starts
