"""``speedbench predict DIR``: fit, predict the grid, answer capacity questions, write
``prediction.json`` into DIR and return the console text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.analysis.groups import bucket_order
from loadgen.atomic import write_text
from loadgen.load.point import LoadPoint
from loadgen.predict.against import MODE as AGAINST
from loadgen.predict.against import against
from loadgen.predict.capacity import Slo, batch_slots, crossover, overloaded, suggest, utilization
from loadgen.predict.forecast import fit_all, public, speedup
from loadgen.predict.grid import simulate_all
from loadgen.predict.holdout import holdout
from loadgen.predict.launches import launch_differences
from loadgen.predict.limits import limits_for, read_limits
from loadgen.predict.observe import read_cells
from loadgen.predict.support import EXTRAPOLATED, support
from loadgen.report.build import refresh_prediction
from loadgen.results.io import PREDICTION_FILE

SCHEMA_VERSION = 1
NEAR_SATURATION = 0.8  # utilization from which a predicted latency is fragile (u/(1-u) >= 4)


@dataclass(frozen=True)
class PredictOptions:
    slo: Slo
    target_rps: float | None = None
    buckets: tuple[str, ...] = ()
    concurrencies: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    suggest: int = 0
    draws: int = 10
    holdout: tuple[str, ...] = ()
    token_budget: int | None = None  # overrides every server's (vLLM --max-num-batched-tokens)
    category: str | None = None  # predict traffic of this category only (its tokens per step)
    osl: int | None = None  # output tokens per request to predict (None: the measured median)
    against: Path | None = None  # another sweep's results dir: predict its cells, compare


def run_predict(results: Path, opts: PredictOptions) -> dict[str, Any]:
    cells = read_cells(results)
    other = read_cells(opts.against) if opts.against is not None else None  # bad dir: fail first
    launched = read_limits(results, opts.token_budget)
    limits = {s: limits_for(launched, s, opts.token_budget) for s in {c.server for c in cells}}
    every = fit_all(cells, opts.draws, 0, limits)  # each bucket's measured mix of categories
    fitted = {s: f.for_category(opts.category) for s, f in every.items()}
    buckets = sorted({c.bucket for c in cells} | set(opts.buckets), key=bucket_order)
    measured_c = {c.load.concurrency for c in cells if c.load.concurrency}
    top = max(measured_c, default=1)
    ladder = sorted(
        measured_c | set(opts.concurrencies) | {2**i for i in range(12) if 2**i <= 4 * top}
    )
    loads = [LoadPoint.closed(c) for c in ladder]
    rates = {c.load for c in cells if c.load.is_open} | {LoadPoint.open(r) for r in opts.rates}
    loads += sorted(rates, key=LoadPoint.sort_key)
    sim = simulate_all(fitted, buckets, loads, opts.slo, opts.target_rps, opts.osl)
    preds, saturation = sim.predictions, sim.saturation
    pairs = [(s, f.point.baseline) for s, f in fitted.items() if f.point.baseline in fitted]
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "speedbench prediction (fitted model + simulation; not measurements)",
        "estimator": "tok/s = output tokens / (last end - first send), as summary.json",
        "category": opts.category,  # None: each bucket's measured mix of categories
        "osl": opts.osl,  # None: each server's measured median output length
        "models": {s: f.point.describe() for s, f in fitted.items()},
        "saturation": [
            {"server": s, "bucket": b, "rate_rps": r, "batch_slots": batch_slots(fitted[s].point)}
            for (s, b), r in saturation.items()
        ],
        "saturation_definition": "requests/s one replica completes with a permanent backlog (a "
        "closed loop of 2 x batch_slots users, middle half of the completions); an open-loop "
        "prediction at or above it is overloaded: its queue grows without bound, so its latencies "
        "depend on how long the load lasts",
        "predictions": [
            {
                "server": s,
                "bucket": b,
                "load": ld.to_dict(),
                "measured": (m.measured if (m := fitted[s].measured(b, ld)) else None),
                "predicted": public(p),
                "utilization": utilization(ld, saturation[(s, b)]),
                "overloaded": overloaded(ld, saturation[(s, b)]),
                "support": support(fitted[s].cells, b, ld, opts.osl, opts.category).to_dict(),
            }
            for (s, b, ld), p in preds.items()
        ],
        "speedup": [
            {
                "variant": sd,
                "baseline": base,
                "bucket": b,
                "load": ld.label,
                **speedup(preds[(sd, b, ld)], preds[(base, b, ld)]),
            }
            for sd, base in pairs
            for b in buckets
            for ld in loads
        ],
        "crossover": [
            crossover(
                sd,
                b,
                {
                    c: preds[(sd, b, LoadPoint.closed(c))]["tok_s"]
                    / preds[(base, b, LoadPoint.closed(c))]["tok_s"]
                    for c in ladder
                },
            )
            for sd, base in pairs
            for b in buckets
        ],
        "slo": opts.slo.to_dict(),
    }
    if opts.slo.given:
        doc["capacity"] = [
            {**c, "support": support(fitted[s].cells, b, at, opts.osl, opts.category).to_dict()}
            for (s, b), c in sim.capacity.items()
            # 0 req/s: even a trickle misses the SLO; a trickle meets an idle server, as c=1
            for at in [
                LoadPoint.open(c["max_rate_rps"]) if c["max_rate_rps"] else LoadPoint.closed(1)
            ]
        ]
    if opts.suggest:
        doc["suggest"] = suggest(preds, fitted, opts.suggest)
    validation = [holdout(cells, mode, limits) for mode in opts.holdout]
    if other is not None and opts.against is not None:
        models = {s: f.point for s, f in every.items()}
        differences = launch_differences(results, opts.against, models)
        validation.append(against(models, cells, other, str(opts.against), differences))
    if validation:
        doc["validation"] = validation
    write_text(results / PREDICTION_FILE, json.dumps(doc, indent=1))
    refresh_prediction(results)  # report.html: the predicted curves with the measured cells
    return doc


def _load_mark(prediction: dict[str, Any]) -> str:
    """`` !`` overloaded, `` ~`` near saturation, else nothing (closed loops: never)."""
    if prediction.get("overloaded"):
        return " !"
    return " ~" if (prediction.get("utilization") or 0.0) >= NEAR_SATURATION else ""


def _subset(label: str, errors: dict[str, Any], every: int) -> str:
    """``; label: median, max over n`` when the subset leaves cells out (none left: says so)."""
    if errors.get("cells", 0) == every:
        return ""
    if not errors:
        return f"; {label}: none"
    return (
        f"; {label}: {errors['median_abs']:.1%}, max {errors['max_abs']:.1%} over {errors['cells']}"
    )


def _idle(model: dict[str, Any]) -> str:
    seen = sorted((b for b, n in model["idle_requests"].items() if n), key=bucket_order)
    if seen:
        return ", ".join(f"{b} {model['idle_requests'][b]}" for b in seen)
    return "none (no c=1 or open-loop cell): the prefill terms rest on decode steps; measure c=1"


def render(doc: dict[str, Any]) -> str:
    """The console text: coefficients with units, predicted grid, speedup, capacity."""
    out = ["PREDICTED (fitted model + simulation, not measured); tok/s = tokens/window"]
    if doc.get("category"):
        out.append(f"traffic: category {doc['category']!r} only (its measured tokens per step)")
    if doc.get("osl"):
        out.append(f"output length: {doc['osl']} tokens per request (not the measured one)")
    for server, m in doc["models"].items():
        coefs = ", ".join(f"{k}={v['value']:.4g} {v['unit']}" for k, v in m["coefficients"].items())
        tps = ", ".join(f"{b}: {v:.2f}" for b, v in m["tokens_per_step"].items())
        by_category = m["tokens_per_step_by_category"]
        if len(by_category) > 1:
            tps += "; by category " + ", ".join(f"{k}: {v:.2f}" for k, v in by_category.items())
        if spread := m["request_steps_per_token_p10_p90_relative"]:
            tps += "; a request's steps per token, p10-p90 x the mean: " + ", ".join(
                f"{b}: {lo:.2f}-{hi:.2f}" for b, (lo, hi) in spread.items()
            )
        out += [
            f"\n{server}: step_ms = a + b*batch + c*context_k + p*prefill_k + q*pairs_m; TTFT += o",
            f"  {coefs}",
            f"  width {m['verification_width']}, tokens/step {tps}, batch limit "
            f"{m['batch_limit'] or 'not seen'}, token budget "
            f"{m['token_budget'] or 'none (whole prompts in one step)'}, step fit rel. RMSE "
            f"{m['step_fit_relative_rmse']:.3f}",
            f"  limits from: {m['limits_source']}",
            f"  o: {m['overhead_source']}",
            f"  prefill pinned by the TTFTs of requests that found it idle: {_idle(m)}",
            *(
                [
                    f"  {m['stalled_requests_left_out']} requests' streams stalled: not in tokens "
                    "per step (nor in the step fit where an end chunk came late)"
                ]
                if m["stalled_requests_left_out"]
                else []
            ),
        ]
    out.append(
        f"\n{'server':<14}{'bucket':<7}{'load':<16}{'tok/s':>20}{'TTFT p90 ms':>14}"
        f"{'TPOT mean ms':>14}  measured tok/s  (* extrapolated: reasons below; ! ~ load)"
    )
    beyond: dict[str, None] = {}  # the reasons, once each, in order
    for p in doc["predictions"]:
        f, (lo, hi) = p["predicted"], p["predicted"]["intervals"].get("tok_s", [0, 0])
        seen = f"{p['measured']['tok_s']:.1f}" if p["measured"] else "-"
        far = p["support"]["kind"] == EXTRAPOLATED
        beyond.update(dict.fromkeys(f"{p['server']}: {r}" for r in p["support"]["reasons"]))
        out.append(
            f"{p['server']:<14}{p['bucket']:<7}{p['load']['label']:<16}"
            f"{f['tok_s']:>8.1f} [{lo:.0f}-{hi:.0f}]".ljust(57)
            + f"{f['ttft_p90_ms']:>14.1f}{f['tpot_mean_ms']:>14.2f}  {seen}{' *' if far else ''}"
            + _load_mark(p)
        )
    out += [
        f"saturation {s['server']} {s['bucket']}: {s['rate_rps']:.3g} req/s "
        f"(batch slots: {s['batch_slots']})"
        for s in doc["saturation"]
    ]
    marks = {_load_mark(p) for p in doc["predictions"]}
    if " !" in marks:
        out.append(
            "! overloaded: an open loop at or above its saturation rate queues without bound; "
            "its TTFT and E2E grow with how long the load lasts (no steady figure)"
        )
    if " ~" in marks:
        out.append(
            f"~ near saturation (utilization >= {NEAR_SATURATION:.0%}): a 1% error in the rate "
            "the replica sustains is one of u/(1-u) % (4% and more) in its queueing wait"
        )
    for s in doc["speedup"]:
        lo, hi = s["interval"]
        out.append(
            f"speedup {s['variant']}/{s['baseline']} {s['bucket']} {s['load']}: "
            f"{s['value']:.3f} [{lo:.3f}-{hi:.3f}]"
        )
    out += [
        f"crossover {c['variant']} {c['bucket']}: c={c['concurrency']}" for c in doc["crossover"]
    ]
    for c in doc.get("capacity", []):
        lo, hi = c["interval"] or [float("nan")] * 2
        more = f", replicas for {c['target_rps']}/s: {c['replicas']}" if "target_rps" in c else ""
        far = c["support"]["kind"] == EXTRAPOLATED
        beyond.update(dict.fromkeys(f"{c['server']}: {r}" for r in c["support"]["reasons"]))
        out.append(
            f"SLO capacity {c['server']} {c['bucket']}: {c['max_rate_rps']:.2f} req/s "
            f"[{lo:.2f}-{hi:.2f}] (saturation {c['saturation_rps']:.3g}){more}{' *' if far else ''}"
        )
    out += [f"* extrapolated, {r}" for r in beyond]
    out += [
        f"measure next: {s['bucket']} {s['load']}: {s['reason']} "
        f"(interval width {s['relative_width']:.1%})"
        for s in doc.get("suggest", [])
    ]
    for v in doc.get("validation", []):
        mode = f"sweep {v['against']}" if v["mode"] == AGAINST else f"leave-one-{v['mode']}-out"
        out += [f"! {mode}, matched by server name: {d}" for d in v.get("launch_differences", [])]
        for fig, e in v["errors"].items():
            out.append(
                f"{mode} {fig}: median |err| {e['median_abs']:.1%}, "
                f"max {e['max_abs']:.1%} over {e['cells']} cells"
                + _subset("not overloaded", e["steady"], e["cells"])
                + _subset("inside the fitted span", e["inside"], e["cells"])
            )
        out += [
            f"{mode} {fig}, the {r['cells']} cells measured in both: the model "
            f"{r['model_median_abs']:.1%} / {r['model_max_abs']:.1%}, re-measuring "
            f"{r['median_abs']:.1%} / {r['max_abs']:.1%} (median / max |err|)"
            for fig, r in v.get("remeasured", {}).items()
        ]
    return "\n".join(out)
