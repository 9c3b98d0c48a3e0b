"""A discrete-event simulation of continuous batching under the fitted step law.

Event-driven, not step-driven: each request's decode steps are drawn up front from the
tokens-per-step distribution, or, where the model has measured how requests differ (SD: a prompt
drafts as it does), as the bucket's mean steps scaled by a draw from that spread (acceptance does
not depend on the batch), so between admissions and
completions the batch is fixed and a run of steps is summed in closed form (context grows by the
accepted tokens each step: an arithmetic series). A new request joins at the next step boundary,
its prefill lengthening that step for everyone; its first token comes at that step's end. With a
token budget (``ServerModel.token_budget``) a step prefills at most the budget left after the
decoding sequences' tokens, first come first served, so a long prompt (or a herd of prompts) is
prefilled in chunks over several steps, as vLLM's chunked prefill does. Closed
loop: users send again when their request ends; open loop: Poisson, gamma or constant arrivals,
latencies from the intended send time.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from loadgen.load.arrivals import arrival_offsets_ns
from loadgen.load.point import LoadPoint
from loadgen.predict.model import ServerModel


@dataclass(frozen=True)
class SimResult:
    tok_s: float
    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    e2e_ms: np.ndarray
    end_ms: np.ndarray  # each request's completion on the simulated clock

    def steady_rate(self) -> float:
        """Requests/s completed over the middle half of the completions (the first wave's ramp
        and the last requests' drain left out)."""
        ends = np.sort(self.end_ms)
        lo, hi = len(ends) // 4, 3 * len(ends) // 4
        return float(1000 * (hi - lo) / (ends[hi] - ends[lo]))

    def figures(self) -> dict[str, float]:
        return {
            "tok_s": self.tok_s,
            "ttft_p50_ms": float(np.quantile(self.ttft_ms, 0.5)),
            "ttft_p90_ms": float(np.quantile(self.ttft_ms, 0.9)),
            "ttft_p99_ms": float(np.quantile(self.ttft_ms, 0.99)),
            "tpot_mean_ms": float(np.nanmean(self.tpot_ms)),
            "tpot_p90_ms": float(np.nanquantile(self.tpot_ms, 0.9)),
            "e2e_mean_ms": float(np.mean(self.e2e_ms)),
            "e2e_p90_ms": float(np.quantile(self.e2e_ms, 0.9)),
        }


def simulate(
    model: ServerModel,
    bucket: str,
    load: LoadPoint,
    requests: int,
    osl: np.ndarray | float | None = None,
    seed: int = 0,
    sends_ms: np.ndarray | None = None,
    prompts: np.ndarray | None = None,
) -> SimResult:
    """``requests`` requests of ``bucket`` under ``load``; ``osl`` a length or lengths to draw
    from; ``sends_ms`` an open-loop schedule to replay (a measured cell's own); ``prompts`` a
    measured cell's prompt lengths in send order to replay, and then ``osl`` its output
    lengths in the same order (None: both drawn; in a closed loop of a few users, which
    prompts come together decides whether one's prefill stalls another's decode, a cell's
    mean TPOT by some 10% at c=2)."""
    rng = np.random.default_rng(seed)
    n = requests
    c = model.coef
    if osl is None or np.ndim(osl) == 0:
        out = np.full(n, float(model.osl if osl is None else osl))
    elif prompts is not None:
        out = np.resize(np.asarray(osl, dtype=float), n)
    else:
        out = rng.choice(np.asarray(osl, dtype=float), n)
    out = np.maximum(np.rint(out).astype(np.int64), 1)
    steps, per_step = _decode_steps(
        model.pmf(bucket), out, rng, model.draw_step_scales(bucket, n, rng)
    )
    prompts = (
        model.draw_prompts(bucket, n, rng)
        if prompts is None
        else np.resize(np.asarray(prompts, dtype=float), n)
    )
    if load.is_open:
        rate = float(load.rate or 1.0)
        if sends_ms is not None and len(sends_ms):
            sends = np.resize(np.asarray(sends_ms, dtype=float), n)
        else:
            sends = (
                np.asarray(arrival_offsets_ns(load.arrivals, rate, n, load.burstiness, seed)) / 1e6
            )
        users = n
    else:
        users = min(int(load.concurrency or 1), n)
        sends = np.full(n, np.inf)
        sends[:users] = 0.0
    limit = model.batch_limit or n
    budget = model.token_budget or math.inf
    first, end = np.full(n, np.nan), np.full(n, np.nan)
    ready = (sends + c["o"]).tolist()  # when the engine sees each request
    prompt, grows, n_steps = prompts.tolist(), per_step.tolist(), steps.tolist()
    final_ctx = (prompts + out).tolist()  # a request's context when it ends: prompt + output
    clock, nxt, issued, step = 0.0, 0, users, 0  # step: decode steps run so far
    running: list[tuple[int, int]] = []  # heap of (step it ends at, request)
    ctx_sum = grow_sum = 0.0  # the running requests' context tokens, and their growth per step
    pre: list[int] = []  # admitted, prompt not yet fully prefilled (FIFO)
    left: dict[int, float] = {}  # their prompt tokens still to prefill
    while nxt < n or running or pre:
        room = limit - len(running) - len(pre)
        while nxt < n and room > 0 and ready[nxt] <= clock:
            pre.append(nxt)
            left[nxt] = float(prompt[nxt])
            nxt, room = nxt + 1, room - 1
        if not running and not pre:
            clock = max(clock, ready[nxt])
            continue
        if pre:  # one step: prefill chunks within the budget, one decode step for the others
            room_tokens = max(budget - len(running) * model.width, 0.0)
            chunked, done_prefill, prefill, attended, pairs = 0, [], 0.0, ctx_sum, 0.0
            for i in pre:
                if room_tokens <= 0:
                    break
                take, before = min(left[i], room_tokens), prompt[i] - left[i]
                attended += before + take
                pairs += take * (before + take / 2)
                left[i] -= take
                room_tokens -= take
                prefill += take
                chunked += 1
                if left[i] <= 0:
                    done_prefill.append(i)
            b = len(running) + chunked
            base = c["a"] + c["b"] * b + c["c"] * attended / 1000
            jitter = rng.lognormal(0, model.noise) if model.noise else 1.0
            clock += (base + c["p"] * prefill / 1000 + c["q"] * pairs / 1e6) * jitter
            step += 1
            ctx_sum += grow_sum
            for i in done_prefill:
                first[i] = clock
                heapq.heappush(running, (step + n_steps[i], i))
                ctx_sum += prompt[i] + 1
                grow_sum += grows[i]
            pre = [i for i in pre if left[i] > 0]
        else:
            base = c["a"] + c["b"] * len(running) + c["c"] * ctx_sum / 1000
            grow = c["c"] * grow_sum / 1000
            m = running[0][0] - step
            if nxt < n and room > 0 and math.isfinite(ready[nxt]):
                m = max(1, min(m, _steps_until(base, grow, ready[nxt] - clock)))
            clock += m * base + grow * m * (m - 1) / 2
            step += m
            ctx_sum += m * grow_sum
        done = 0
        while running and running[0][0] <= step:
            i = heapq.heappop(running)[1]
            end[i] = clock
            ctx_sum -= final_ctx[i]
            grow_sum -= grows[i]
            done += 1
        if not running:
            ctx_sum = grow_sum = 0.0  # no rounding left over between busy periods
        if done and not load.is_open:
            again = min(done, n - issued)
            sends[issued : issued + again] = clock
            ready[issued : issued + again] = [clock + c["o"]] * again
            issued += again
    e2e = end - sends
    later = out - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(later > 0, (end - first) / later, np.nan)
    window_s = (end.max() - sends.min()) / 1000
    return SimResult(float(out.sum() / window_s), first - sends, tpot, e2e, end)


def _decode_steps(
    pmf: np.ndarray, out: np.ndarray, rng: np.random.Generator, scales: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Steps each request needs after its first token, and its tokens per step: drawn step by
    step from ``pmf``, or, with ``scales`` (each request's steps per token relative to the
    mean), the mean steps for its length times its scale, within what the widest step allows."""
    later = out - 1
    if scales is not None:
        tokens = np.arange(len(pmf))
        widest = max(int(tokens[pmf > 0].max(initial=1)), 1)
        want = np.ceil(later * scales / float(tokens @ pmf))  # the last step may fall short
        steps = np.where(later > 0, np.clip(want, np.ceil(later / widest), later), 0)
    else:
        horizon = int(out.max())
        sizes = rng.choice(len(pmf), size=(len(out), horizon), p=pmf)
        sizes = np.maximum(sizes, 1)
        reached = np.cumsum(sizes, axis=1) >= later[:, None]
        steps = np.where(out > 1, np.argmax(reached, axis=1) + 1, 0)
    per_step = np.where(steps > 0, later / np.maximum(steps, 1), 0.0)
    return steps.astype(np.int64), per_step


def _steps_until(base: float, grow: float, gap: float) -> int:
    """Fewest steps (durations base, base+grow, ...) that cover ``gap`` ms."""
    if gap <= 0:
        return 1
    if grow <= 1e-12:
        return math.ceil(gap / base) if base > 0 else 1
    # m*base + grow*m*(m-1)/2 >= gap
    bq = base - grow / 2
    return max(1, math.ceil((-bq + math.sqrt(bq * bq + 2 * grow * gap)) / grow))
