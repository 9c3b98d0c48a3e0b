"""A results directory's plan: resumed as is, extended with new cells, or refused.

Re-running a sweep with a plan that only *adds* cells (concurrencies, rates, buckets, repeats)
keeps every measured cell and runs the new ones on fresh prompts (:mod:`loadgen.sweep.slices`);
the manifest's ``plan_history`` records each digest and when it was adopted. Any other change
(model, output length, requests, servers and their settings, a removed load point) is refused,
naming what changed: the new cells would not be comparable with the measured ones.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from loadgen.results.schemas import SweepManifest
from loadgen.sweep import rate_sweep
from loadgen.sweep.plan import PlanError, SweepPlan
from loadgen.sweep.slices import PromptSlices

ADDED = ("concurrencies", "rates", "buckets")  # lists an extension may only add to
OPEN_LOOP = ("arrivals", "burstiness", "max_in_flight")  # free while the old plan had no rates


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def changes(old: SweepPlan, new: SweepPlan) -> list[str]:
    """What ``new`` changes beyond adding cells to ``old``; empty: an extension."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    free = {*ADDED, "repeats"}
    if not old.rates and old.rate_sweep is None:
        free |= set(OPEN_LOOP)
    found = [
        f"{key} ({before[key]!r} -> {after[key]!r})"
        for key in before
        if key not in free and before[key] != after[key]
    ]
    for key in ADDED:
        removed = [v for v in before[key] if v not in after[key]]
        if removed:
            found.append(f"{key} removes {removed}")
    if new.repeats < old.repeats:
        found.append(f"repeats ({old.repeats} -> {new.repeats}, fewer)")
    return found


def adopt(plan: SweepPlan, manifest: SweepManifest, out: str) -> None:
    """Make ``plan`` the manifest's plan: the same plan resumes; an extension is recorded with
    fresh prompt slices for its new cells; anything else raises :class:`PlanError`."""
    old = recorded_plan(manifest)
    slices = slices_of(manifest, old)
    if manifest.plan_sha256 != plan.digest():
        found = changes(old, plan) if old is not None else ["the recorded plan is unreadable"]
        if found:
            raise PlanError(
                f"{out} holds results of a different plan ({manifest.plan.get('name')!r}, "
                f"sha256 {manifest.plan_sha256[:12]}); the plan changed: {'; '.join(found)}. "
                "Only adding concurrencies, rates, buckets or repeats extends a sweep: re-run "
                "with the original plan to resume, or give a new --out directory"
            )
        if not manifest.plan_history:
            manifest.plan_history = [{"sha256": manifest.plan_sha256, "event": "created"}]
        slices = slices.extended(with_chosen_rates(plan, manifest), fresh_warmup=True)
        manifest.plan_history.append({"sha256": plan.digest(), "event": "extended", "at": now()})
        manifest.plan, manifest.plan_sha256 = plan.model_dump(mode="json"), plan.digest()
    manifest.prompts = slices.to_json()


def recorded_plan(manifest: SweepManifest) -> SweepPlan | None:
    try:
        return SweepPlan.model_validate(manifest.plan)
    except ValidationError:
        return None


def slices_of(manifest: SweepManifest, old: SweepPlan | None) -> PromptSlices:
    """The recorded slices; a manifest written before they were recorded has the old layout."""
    if manifest.prompts is not None:
        return PromptSlices.from_json(manifest.prompts)
    if old is None:
        raise PlanError("the results directory's manifest has neither prompt slices nor a plan")
    return PromptSlices.laid_out(old)


def with_chosen_rates(plan: SweepPlan, manifest: SweepManifest) -> SweepPlan:
    """The plan with the rates its rate sweep chose (recorded in the manifest), if chosen yet."""
    chosen: dict[str, Any] | None = manifest.rate_sweep
    if plan.rate_sweep is None or chosen is None:
        return plan
    return plan.model_copy(update={"rates": list(chosen["rates"])})


def history_context(manifest: SweepManifest) -> dict[str, str]:
    """The report's lines on how the sweep grew: its extensions and its rate sweep."""
    lines = {}
    extended = [h for h in manifest.plan_history if h.get("event") == "extended"]
    if extended:
        lines["plan history"] = f"extended {len(extended)} time(s), last at {extended[-1]['at']}"
    if manifest.rate_sweep is not None:
        lines["rate sweep"] = rate_sweep.describe(manifest.rate_sweep)
    return lines
