"""The serving model of one server, fitted by non-negative least squares (every term is a cost).

    step_ms(batch, context, prefill) = a + b * batch + c * context_k + p * prefill_k + q * pairs_m
    TTFT on an idle server            = o + step_ms(1, P/1000, P/1000) with pairs_m = (P/1000)^2 / 2
                                        (no token budget)

With a per-step token budget B (vLLM's ``--max-num-batched-tokens``; its OpenAI server's default
is 2048 on CPU), a prompt of P tokens is prefilled in n = ceil(P / B) chunks, one per step, and
the idle TTFT is o + n * (a + b) + c * P/1000 * (n + 1) / 2 + p * P/1000 + q * (P/1000)^2 / 2.

batch: sequences in the step (for SD each verifies ``width`` = k+1 tokens, so b / width is the cost
per verified token and a holds the draft's fixed cost); context_k: thousands of tokens attended;
prefill_k: thousands of prompt tokens prefilled in the step; pairs_m: millions of (prefilled token,
prompt token it attends) pairs, the prefill's attention, which grows with the square of the prompt
(however it is chunked, a prompt's pairs sum to P^2 / 2; where prefill attention is slow, as on
the AVX2-only EPYC of docs/BENCHMARKS.md issue 16 "Eleventh session", it is a quarter of a 2k
prompt's TTFT, and a law without it charges it to every decode step's context); o: per-request
overhead outside the engine's steps (HTTP, tokenizing, detokenizing), measured where the engine
times its requests (loadgen.predict.overhead), else fitted. Tokens per step follow the
measured distribution per bucket (one per step for a server launched without SD: a client that
reads late merges steps' tokens into one chunk), and per request around it (an SD request's
acceptance is its prompt's: its steps per output token, relative to the bucket's mean, are drawn
from the measured requests' spread), and so do prompt lengths around their bucket's
mean (a prefill's length decides TTFT's tail); ``batch_limit`` is the engine's declared limit
(``loadgen.predict.limits``) or, when none is known, where a measured cell stopped admitting
(None: never seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import nnls

from loadgen.predict.limits import UNKNOWN, ServerLimits
from loadgen.predict.observe import MAX_STEP_TOKENS, CellObs, idle_requests

SPREAD_QUANTILES = np.linspace(0.0, 1.0, 21)  # spreads (prompt length, steps per token) kept at
MIN_SPREAD_REQUESTS = 8  # a bucket's requests paced on time, to draw a per-request spread from
ONE_TOKEN = np.eye(MAX_STEP_TOKENS + 1)[1]  # tokens-per-step counts of a server that never drafts

COEFFICIENTS = {
    "a": "ms per step",
    "b": "ms per sequence per step",
    "c": "ms per 1000 context tokens per step",
    "p": "ms per 1000 prompt tokens prefilled",
    "q": "ms per 1000 prompt tokens prefilled x 1000 prompt tokens each attends",
    "o": "ms per request outside steps",
}


OVERHEAD_FITTED = "fitted (no engine request-latency histogram over the cells' windows)"


class CannotFit(ValueError):
    """Too little was measured to fit; the message names what to measure next."""


@dataclass(frozen=True)
class ServerModel:
    server: str
    baseline: str | None
    coef: dict[str, float]
    step_pmf: dict[str, np.ndarray]  # bucket -> P(tokens per step = i), i = 0..MAX_STEP_TOKENS
    prompt_tokens: dict[str, float]  # bucket -> mean prompt tokens
    osl: float  # median output tokens measured
    batch_limit: int | None
    width: int  # tokens verified per sequence per step (k+1; 1 for a baseline)
    rel_rmse: float  # of the step-time fit, relative
    noise: float  # lognormal sigma of one step's time, from idle TTFTs around the fit
    token_budget: int | None = None  # tokens one step may process (prefill chunks + decode)
    # category -> P(tokens per step = i), pooled over the buckets (SD's acceptance by domain)
    category_pmf: dict[str, np.ndarray] = field(default_factory=dict)
    limits_source: str = ""  # where token_budget and batch_limit came from
    stalled: int = 0  # requests whose streams stalled: left out of tokens per step
    # bucket -> quantiles (SPREAD_QUANTILES) of prompt tokens / the bucket's mean; none: all equal
    prompt_spread: dict[str, np.ndarray] = field(default_factory=dict)
    overhead_source: str = OVERHEAD_FITTED  # or how it was measured (loadgen.predict.overhead)
    # bucket -> quantiles (SPREAD_QUANTILES) of a request's steps per output token / their mean
    # (SD: prompts draft differently); none: every request's steps drawn from the bucket's pmf
    step_spread: dict[str, np.ndarray] = field(default_factory=dict)
    # bucket -> requests that found the server idle (c=1, a slow open loop): the TTFTs that pin
    # p and q (and o when fitted); none: the prefill rests on the decode steps it slowed
    idle_requests: dict[str, int] = field(default_factory=dict)

    def pmf(self, bucket: str) -> np.ndarray:
        """A bucket's tokens-per-step distribution; unmeasured buckets pool the measured ones."""
        if bucket in self.step_pmf:
            return self.step_pmf[bucket]
        pooled = np.sum(list(self.step_pmf.values()), axis=0)
        return np.asarray(pooled / pooled.sum())

    def for_category(self, category: str) -> ServerModel:
        """The model for traffic of one category only: every bucket drafts as that category's
        requests did (its tokens per step, pooled over the buckets); unmeasured: refused."""
        if category not in self.category_pmf:
            raise CannotFit(
                f"{self.server}: no requests of category {category!r} were measured (have "
                f"{sorted(self.category_pmf)})"
            )
        pmf = self.category_pmf[category]
        return replace(self, step_pmf=dict.fromkeys(self.step_pmf, pmf))

    def with_acceptance(self, bucket: str, counts: np.ndarray) -> ServerModel:
        """The model with a bucket's tokens per step as ``counts`` say (those of one cell's
        prompts: acceptance is the prompts', so a cell of 24 prompts drafts as they do, not as
        the bucket's mean); a model that never drafts (width 1) is returned as it is."""
        if self.width == 1 or not counts.sum():
            return self
        return replace(self, step_pmf={**self.step_pmf, bucket: _normalised(counts)})

    def prompt(self, bucket: str) -> float:
        if bucket in self.prompt_tokens:
            return self.prompt_tokens[bucket]
        scale = np.median([v / _kilo(b) for b, v in self.prompt_tokens.items()])
        return float(scale * _kilo(bucket))

    def prompt_quantile(self, bucket: str, q: np.ndarray | float) -> np.ndarray:
        """Prompt tokens at quantile(s) ``q`` of the bucket's spread (an unmeasured bucket: the
        measured buckets' spreads pooled, scaled to its size; none measured: all at the mean)."""
        shape = _bucket_spread(self.prompt_spread, bucket)
        if shape is None:
            shape = np.ones(len(SPREAD_QUANTILES))
        return np.asarray(self.prompt(bucket) * np.interp(q, SPREAD_QUANTILES, shape))

    def draw_step_scales(self, bucket: str, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` requests' steps per output token relative to the bucket's mean, as the
        measured requests' spread (an unmeasured bucket: the measured spreads pooled); None
        where no spread was measured (a server that never drafts)."""
        shape = _bucket_spread(self.step_spread, bucket)
        if shape is None:
            return None
        # stratified: one draw from each n-th of the spread, in random order, so a cell of n
        # requests paces as the spread says on average, not as n independent draws happen to
        strata = (rng.permutation(n) + rng.random(n)) / n
        return np.asarray(np.interp(strata, SPREAD_QUANTILES, shape))

    def draw_prompts(self, bucket: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` prompt lengths as the bucket's were spread."""
        return self.prompt_quantile(bucket, rng.random(n))

    def describe(self) -> dict[str, Any]:
        tps = {b: _mean_tokens(p) for b, p in self.step_pmf.items()}
        return {
            "coefficients": {
                k: {"value": v, "unit": COEFFICIENTS[k]} for k, v in self.coef.items()
            },
            "verification_width": self.width,
            "ms_per_verified_token": self.coef["b"] / self.width,
            "tokens_per_step": tps,
            "prompt_tokens_p10_p90": {
                b: self.prompt_quantile(b, np.array([0.1, 0.9])).tolist()
                for b in self.prompt_spread
            },
            "request_steps_per_token_p10_p90_relative": {
                b: np.interp([0.1, 0.9], SPREAD_QUANTILES, v).tolist()
                for b, v in self.step_spread.items()
            },
            "tokens_per_step_by_category": {
                k: _mean_tokens(p) for k, p in self.category_pmf.items()
            },
            "batch_limit": self.batch_limit,
            "step_fit_relative_rmse": self.rel_rmse,
            "step_noise_sigma": self.noise,
            "token_budget": self.token_budget,
            "limits_source": self.limits_source,
            "stalled_requests_left_out": self.stalled,
            "overhead_source": self.overhead_source,
            "idle_requests": self.idle_requests,
        }


def _bucket_spread(spreads: dict[str, np.ndarray], bucket: str) -> np.ndarray | None:
    """A bucket's spread; an unmeasured bucket's: the measured buckets' pooled (their median);
    None when no bucket's was measured."""
    if bucket in spreads:
        return spreads[bucket]
    return np.median(list(spreads.values()), axis=0) if spreads else None


def _mean_tokens(pmf: np.ndarray) -> float:
    """Mean tokens per step of a tokens-per-step distribution."""
    return float(np.arange(len(pmf)) @ pmf)


def _kilo(bucket: str) -> float:
    return float(bucket[:-1]) if bucket[:-1].replace(".", "").isdigit() else 1.0


def check_enough(server: str, cells: Sequence[CellObs]) -> None:
    """Refuse, naming the next cells to measure, when the batch term cannot be identified."""
    closed = sorted({c.load.concurrency for c in cells if c.load.concurrency is not None})
    loads = {c.load for c in cells}
    if len(cells) < 2 or len(loads) < 2:
        where = ", ".join(sorted({c.load.label for c in cells})) or "nothing"
        have = closed[-1] if closed else 1
        raise CannotFit(
            f"{server}: {len(cells)} cell(s) at {len(loads)} load point(s) ({where}): the step "
            f"time's growth with batch size cannot be fitted from one load. Measure {server} at "
            f"another concurrency too, e.g. c={max(2, have * 4)} (and c=1 if missing)"
        )


def fit_server(
    cells: Sequence[CellObs],
    weights: np.ndarray | None = None,
    limits: ServerLimits = UNKNOWN,
) -> ServerModel:
    """One server's model; ``weights`` (one per cell) refit it on a Bayesian-bootstrap draw."""
    server = cells[0].server
    token_budget = limits.token_budget
    check_enough(server, cells)
    w = np.ones(len(cells)) if weights is None else weights
    xs, ys, ws = [], [], []
    for cell, wc in zip(cells, w, strict=True):
        if len(cell.decode):
            dx, dy = cell.decode.rows(limits.drafts is False, token_budget)
            xs.append(np.column_stack([dx, np.zeros(len(dy))]))
            ys.append(dy)
            ws.append(np.full(len(dy), wc / len(dy) / dy.mean()))
        if len(cell.idle_ttft):
            pk = cell.idle_prompt / 1000
            ones = np.ones(len(pk))
            chunks = np.ceil(cell.idle_prompt / token_budget) if token_budget else ones
            xs.append(np.column_stack([chunks, chunks, pk * (chunks + 1) / 2, pk, pk**2 / 2, ones]))
            ys.append(cell.idle_ttft)
            ws.append(np.full(len(pk), wc / len(pk) / max(cell.idle_ttft.mean(), 1e-9)))
    x, y, sw = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    overhead = _measured_overhead(cells)
    fit_x, fit_y = x, y
    if overhead is not None:  # o measured: the other terms fit the idle TTFTs less o
        fit_y = y - overhead * x[:, -1]
        fit_x = np.column_stack([x[:, :-1], np.zeros(len(y))])
    root = np.sqrt(sw)
    sol, _ = nnls(fit_x * root[:, None], fit_y * root)
    if overhead is not None:
        sol[-1] = overhead
    decode = x[:, -1] == 0
    resid = (x[decode] @ sol - y[decode]) / y[decode]
    idle = ~decode & (y > 0) & (x @ sol > 0)
    noise = float(np.std(np.log(y[idle] / (x[idle] @ sol)))) if idle.sum() > 2 else 0.0
    counts: dict[str, np.ndarray] = {}
    by_category: dict[str, np.ndarray] = {}
    prompts: dict[str, list[np.ndarray]] = {}
    paces: dict[str, list[np.ndarray]] = {}
    for cell in cells:
        paces.setdefault(cell.bucket, []).append(cell.steps_per_token)
        counts[cell.bucket] = counts.get(cell.bucket, 0) + cell.step_tokens
        for category, seen in cell.category_step_tokens.items():
            by_category[category] = by_category.get(category, 0) + seen
        prompts.setdefault(cell.bucket, []).append(cell.prompts)
    if limits.drafts is False:  # no SD: a chunk of n tokens is n steps' outputs merged
        counts = dict.fromkeys(counts, ONE_TOKEN)
        by_category = dict.fromkeys(by_category, ONE_TOKEN)
    pmf = {b: _normalised(c) for b, c in counts.items()}
    width = max(int(np.flatnonzero(c)[-1]) if c.any() else 1 for c in counts.values())
    spread = {} if width <= 1 else {b: _spread(np.concatenate(vs)) for b, vs in paces.items()
                                    if sum(map(len, vs)) >= MIN_SPREAD_REQUESTS}  # fmt: skip
    return ServerModel(
        server=server,
        baseline=cells[0].baseline,
        coef=dict(zip(COEFFICIENTS, map(float, sol), strict=True)),
        step_pmf=pmf,
        prompt_tokens={b: float(np.mean([v.mean() for v in vs])) for b, vs in prompts.items()},
        osl=float(np.median(np.concatenate([c.osl for c in cells]))),
        batch_limit=limits.batch_limit or _batch_limit(cells),
        width=max(width, 1),
        rel_rmse=float(np.sqrt(np.mean(resid**2))) if len(resid) else float("nan"),
        noise=noise,
        token_budget=token_budget,
        category_pmf={k: _normalised(v) for k, v in by_category.items() if v.sum()},
        limits_source=limits.source,
        stalled=sum(c.stalled for c in cells),
        prompt_spread={b: _spread(np.concatenate(vs)) for b, vs in prompts.items()},
        step_spread=spread,
        idle_requests=idle_requests(cells),
        overhead_source=OVERHEAD_FITTED
        if overhead is None
        else f"measured: client E2E - the engine's request latency, median of "
        f"{sum(c.overhead_ms is not None for c in cells)} cells",
    )


def _measured_overhead(cells: Sequence[CellObs]) -> float | None:
    """The median over the cells that measured it (loadgen.predict.overhead), ms; never < 0."""
    seen = [c.overhead_ms for c in cells if c.overhead_ms is not None]
    return max(float(np.median(seen)), 0.0) if seen else None


def _spread(values: np.ndarray) -> np.ndarray:
    """Quantiles of values (prompt tokens, steps per token) relative to their mean."""
    return np.asarray(np.quantile(values / values.mean(), SPREAD_QUANTILES))


def _normalised(counts: np.ndarray) -> np.ndarray:
    if counts.sum() == 0:  # one-token outputs only: a step makes one token
        counts = ONE_TOKEN
    return np.asarray(counts / counts.sum())


def _batch_limit(cells: Sequence[CellObs]) -> int | None:
    """Seen when a closed loop kept fewer than 80% of its users decoding at its busiest."""
    limited = [
        c.max_decoding
        for c in cells
        if c.load.concurrency is not None and c.max_decoding < 0.8 * c.load.concurrency
    ]
    return max(limited) if limited else None


def bootstrap_models(
    cells: Sequence[CellObs], draws: int, seed: int = 0, limits: ServerLimits = UNKNOWN
) -> tuple[ServerModel, list[ServerModel]]:
    """The point fit and ``draws`` refits on Bayesian-bootstrap cell weights (Dirichlet(1): every
    cell stays in, so a refit never loses a bucket or load and becomes unidentifiable)."""
    point = fit_server(cells, None, limits)
    rng = np.random.default_rng(seed)
    refits = [
        fit_server(cells, rng.dirichlet(np.ones(len(cells))) * len(cells), limits)
        for _ in range(draws)
    ]
    return point, [replace(r, step_pmf=_resampled_pmf(r, cells, rng)) for r in refits]


def _resampled_pmf(
    model: ServerModel, cells: Sequence[CellObs], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Tokens-per-step distributions redrawn per bucket (their sampling error is part of SD's)."""
    out = {}
    for bucket, pmf in model.step_pmf.items():
        n = int(sum(c.step_tokens.sum() for c in cells if c.bucket == bucket))
        out[bucket] = _normalised(rng.multinomial(max(n, 1), pmf).astype(float))
    return out
