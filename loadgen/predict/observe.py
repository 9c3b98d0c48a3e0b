"""What the fit needs from one cell's records: per-request step rows, idle TTFT rows, the tokens
per step and the measured figures to compare predictions with.

Chunks are steps: during one engine step every running request streams one chunk, so the chunks of
*all* requests that fall inside request j's decode interval (first chunk, last chunk] count the
sequence-steps the engine ran meanwhile, their contexts sum the attention work, and the prefills
that shared those steps end in them. Dividing by j's own steps gives, per request, the average
step's batch, context and prefill: exact work counts, no guessed batch size. With a token budget
a prompt is prefilled in chunks over several steps, so only the chunks in j's interval are j's
(``loadgen.predict.prefill_steps``): of two 2.4k-token prompts sent together, the second's
first 2048 tokens share the first's last prefill step, not its decode.

A client that reads late stamps a burst of chunks with its own time. A row needs its two ends read
on time (neither end chunk within ``BURST_GAP_NS`` of its neighbour: a pause mid-stream does not
move them); a stalled stream's chunks are not tokens per step (the server may have merged what
it could not send). A server launched without SD makes one token a step, so its rows count steps
by tokens (``DecodeRows``), whatever the chunks merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loadgen.analysis.columns import RAW_COLUMNS, from_table, stalled
from loadgen.client.figures import BURST_GAP_NS
from loadgen.client.sink import RECORDS_PARQUET
from loadgen.load.point import LoadPoint
from loadgen.predict.overhead import measured_overhead_ms
from loadgen.predict.prefill_steps import place
from loadgen.results.io import SUMMARY_FILE, cell_dirs, read_cell_manifest, read_cell_summary
from loadgen.results.schemas import CellSummary

NS_PER_MS = 1e6
MAX_ROWS = 1500  # requests per cell kept for the regression: the fit is cheap, the read is not
MAX_STEP_TOKENS = 16
_READ = ["prompt_len", "usage_prompt_tokens", *RAW_COLUMNS]  # the analysis' columns and prompts


@dataclass(frozen=True)
class DecodeRows:
    """Per request, from its first chunk to its last: the time, and the work of the steps in
    between counted two ways, each row [steps, sequence-steps, context k-token-steps]: one step
    per chunk (a drafting server: a chunk is one step's accepted tokens) or one per token (a
    server that never drafts: a chunk of n tokens is n steps a late reader got at once); and the
    steps (lo, hi] it spans, with every prompt's tokens and the step its prefill ended in, to
    count the prefill work in those steps once the token budget is known."""

    ms: np.ndarray
    by_chunk: np.ndarray
    by_token: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    prefill_tokens: np.ndarray  # per prompt
    prefill_sent_ns: np.ndarray  # per prompt: when it was sent
    prefill_step: np.ndarray  # per prompt: the step its first chunk ended (its prefill's last)
    step_read_ns: np.ndarray  # per step: its first chunk's time (as read: the step had ended)
    _prefill: dict[int | None, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def rows(
        self, one_token_steps: bool, token_budget: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The regression's rows: [1, batch, context_k, prefill_k, pairs_m] per step, and ms
        per step."""
        sums = np.column_stack(
            [self.by_token if one_token_steps else self.by_chunk, self.prefill(token_budget)]
        )
        steps = sums[:, :1]
        x = np.column_stack([np.ones(len(steps)), sums[:, 1:] / steps])
        return x, self.ms / steps[:, 0]

    def prefill(self, token_budget: int | None) -> np.ndarray:
        """Per row, [prefill k-tokens, prefill attention M-pairs] in its steps, the prompts
        placed in steps as ``loadgen.predict.prefill_steps`` says; cached per budget (bootstrap
        refits ask again)."""
        if token_budget not in self._prefill:
            step, tokens, pairs = place(
                self.prefill_tokens, self.prefill_sent_ns, self.prefill_step, self.step_read_ns,
                token_budget,
            )  # fmt: skip
            self._prefill[token_budget] = np.column_stack(
                [_between(np.bincount(step, weights=tokens), self.lo, self.hi) / 1000,
                 _between(np.bincount(step, weights=pairs), self.lo, self.hi) / 1e6]
            )  # fmt: skip
        return self._prefill[token_budget]

    def __len__(self) -> int:
        return len(self.ms)


@dataclass
class CellObs:
    server: str
    baseline: str | None
    bucket: str
    load: LoadPoint
    path: str
    decode: DecodeRows
    idle_prompt: np.ndarray  # prompt tokens of requests sent to an idle server
    idle_ttft: np.ndarray  # their TTFT, ms
    step_tokens: np.ndarray  # counts of tokens per step, index = tokens (last chunk left out)
    category_step_tokens: dict[str, np.ndarray]  # the same per category of the requests
    # per request whose stream did not stall (2+ middle chunks): its steps per output token
    # (middle chunks / their tokens); a prompt drafts as it does, so requests differ
    steps_per_token: np.ndarray
    prompts: np.ndarray  # prompt tokens of every ok request, in send order
    osl: np.ndarray  # output tokens of every ok request, in send order
    max_decoding: int  # most requests decoding at once
    stalled: int  # requests whose stream stalled (loadgen.client.figures): no tokens per step
    sends_ms: np.ndarray  # open loop: the intended send offsets (replayed when predicting it)
    measured: dict[str, float]  # tok_s, ttft_p90_ms, tpot_mean_ms, ... as the harness defines them
    overhead_ms: float | None = None  # client E2E - the engine's request latency (None: unknown)

    @property
    def key(self) -> tuple[str, str, LoadPoint]:
        return self.server, self.bucket, self.load


def read_cell(summary_path: Path) -> CellObs:
    cell = summary_path.parent
    summary = read_cell_summary(cell)
    manifest = read_cell_manifest(cell)
    load = summary.load_point()
    everything = pq.read_table(cell / RECORDS_PARQUET, columns=_READ)
    cols = from_table(everything, from_intended=load.is_open)
    table = everything.filter(pc.is_null(everything["error_kind"]))
    n = table.num_rows
    if n == 0:
        raise ValueError(f"{cell}: no successful requests to fit from")
    usage = table["usage_prompt_tokens"].to_numpy(zero_copy_only=False).astype(float)
    prompts = np.where(np.isnan(usage), table["prompt_len"].to_numpy().astype(float), usage)
    times = pc.list_flatten(table["chunk_ns"]).to_numpy().astype(np.int64)
    tokens = pc.list_flatten(table["chunk_tokens"]).to_numpy().astype(np.int64)
    lengths = pc.list_value_length(table["chunk_ns"]).fill_null(0).to_numpy()
    parent = np.repeat(np.arange(n), lengths)
    keep = tokens > 0
    times, tokens, parent = times[keep], tokens[keep], parent[keep]
    count = np.bincount(parent, minlength=n)
    start = np.cumsum(count) - count
    before = np.cumsum(tokens) - tokens - np.repeat(np.cumsum(tokens)[start] - tokens[start], count)
    ctx = prompts[parent] + before  # context each chunk's step attended over
    has2 = count >= 2
    got = count > 0
    first_at = np.minimum(start, len(times) - 1)
    first = np.where(got, times[first_at], 0)
    last = np.where(got, times[np.minimum(start + count - 1, len(times) - 1)], 0)
    # a chunk read together with its neighbour was read late (the reader's time, not the
    # engine's): a decode row needs both its ends on time, an idle TTFT its first chunk
    gap_after = np.diff(times, append=0)
    first_on_time = got & ((count < 2) | (gap_after[first_at] >= BURST_GAP_NS))
    last_on_time = has2 & (gap_after[np.maximum(start + count - 2, 0)] >= BURST_GAP_NS)
    step = _step_ids(times, parent)
    osl = cols.output_tokens
    rows = np.flatnonzero(first_on_time & last_on_time)
    if len(rows) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, MAX_ROWS, replace=False))
    lo, hi = step[start[rows]], step[start[rows] + count[rows] - 1]  # steps (lo, hi]
    # a chunk of n tokens from a server that never drafts is n steps, attending ctx .. ctx+n-1
    after_first = np.bincount(parent, weights=tokens, minlength=n)[rows] - tokens[start[rows]]
    send = table["send_ns"].to_numpy().astype(np.int64)
    sent = np.argsort(send, kind="stable")
    decode = DecodeRows(
        ms=(last[rows] - first[rows]) / NS_PER_MS,
        by_chunk=np.column_stack(
            [count[rows] - 1.0, _between(np.bincount(step), lo, hi),
             _between(np.bincount(step, weights=ctx), lo, hi) / 1000]
        ),
        by_token=np.column_stack(
            [after_first, _between(np.bincount(step, weights=tokens), lo, hi),
             _between(np.bincount(step, weights=tokens * ctx + tokens * (tokens - 1) / 2), lo, hi)
             / 1000]
        ),
        lo=lo,
        hi=hi,
        prefill_tokens=prompts[got],
        prefill_sent_ns=send[got],
        prefill_step=step[first_at[got]],  # a prompt's prefill ends in the step of its first chunk
        step_read_ns=_step_reads(step, times),
    )  # fmt: skip
    end = table["end_ns"].to_numpy().astype(np.int64)
    intended = everything["intended_send_ns"].to_numpy().astype(np.int64)
    # alone from send to first token: its prefill step had no other request in it
    started = np.searchsorted(np.sort(send), first, "left")
    others = started - np.searchsorted(np.sort(end), send, "right")
    idle = (others <= 1) & first_on_time
    is_last = np.zeros(len(tokens), dtype=bool)
    is_last[(start + count - 1)[count > 0]] = True
    is_first = np.zeros(len(tokens), dtype=bool)
    is_first[start[count > 0]] = True
    # a stalled stream's burst may carry outputs the server merged: not one step's tokens
    clean = ~stalled(times, parent, n)
    inner = ~is_first & ~is_last & clean[parent]
    middle = tokens[inner]
    # categories per request, then per chunk by index (sorting a string per chunk cost 70% of
    # the read: 1.4 s of a 10,000-request cell)
    names, kind = np.unique(table["category"].to_numpy(zero_copy_only=False), return_inverse=True)
    by_category = {str(c): _counts(middle[kind[parent[inner]] == i]) for i, c in enumerate(names)}
    inner_steps = np.bincount(parent[inner], minlength=n)
    inner_tokens = np.bincount(parent[inner], weights=tokens[inner], minlength=n)
    paced = inner_steps >= 2
    decoding = np.searchsorted(
        np.sort(first[count > 0]), first[count > 0], "right"
    ) - np.searchsorted(np.sort(last[count > 0]), first[count > 0], "left")
    return CellObs(
        server=summary.server,
        baseline=manifest.baseline,
        bucket=summary.bucket,
        load=load,
        path=str(cell),
        decode=decode,
        idle_prompt=prompts[idle],
        idle_ttft=(first[idle] - send[idle]) / NS_PER_MS,
        step_tokens=_counts(middle),
        category_step_tokens={c: seen for c, seen in by_category.items() if seen.sum()},
        steps_per_token=inner_steps[paced] / inner_tokens[paced],
        prompts=prompts[sent],
        osl=osl[sent],
        max_decoding=int(decoding.max(initial=0)),
        stalled=int(n - clean.sum()),
        sends_ms=np.sort(intended - intended.min()) / NS_PER_MS if load.is_open else np.empty(0),
        measured=measured_figures(cols.ttft_ms, cols.tpot_ms, cols.e2e_ms, osl, summary),
        overhead_ms=measured_overhead_ms(cell, manifest.run.engine, (end - send) / NS_PER_MS),
    )


def _between(per_step: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of a per-step quantity over the steps (lo, hi] of each row."""
    total = np.cumsum(per_step)
    return np.asarray(total[np.minimum(hi, len(total) - 1)] - total[np.minimum(lo, len(total) - 1)])


def _step_reads(step: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per step id, the time its first chunk was read (a closed loop's next request is sent
    after the chunk that ended its last, so never before this)."""
    reads = np.full(int(step.max(initial=-1)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(reads, step, times)
    return reads


def _counts(tokens: np.ndarray) -> np.ndarray:
    return np.bincount(np.minimum(tokens, MAX_STEP_TOKENS), minlength=MAX_STEP_TOKENS + 1)


def measured_figures(
    ttft: np.ndarray, tpot: np.ndarray, e2e: np.ndarray, osl: np.ndarray, summary: CellSummary
) -> dict[str, float]:
    """The figures a prediction is judged on, defined as the harness defines them (tok/s: tokens
    over the window from first send to last end, the ``summary.json`` headline)."""
    tps = summary.output_tokens_per_s
    return {
        "tok_s": float("nan") if tps is None else tps,
        "ttft_p50_ms": float(np.nanquantile(ttft, 0.5)),
        "ttft_p90_ms": float(np.nanquantile(ttft, 0.9)),
        "tpot_mean_ms": float(np.nanmean(tpot)),
        "tpot_p90_ms": float(np.nanquantile(tpot, 0.9)),
        "e2e_mean_ms": float(np.mean(e2e)),
        "e2e_p90_ms": float(np.quantile(e2e, 0.9)),
        "requests": float(len(osl)),
    }


def idle_requests(cells: Sequence[CellObs]) -> dict[str, int]:
    """Per bucket, the requests that found the server idle: their TTFTs pin the prefill terms."""
    seen: dict[str, int] = {}
    for c in cells:
        seen[c.bucket] = seen.get(c.bucket, 0) + len(c.idle_ttft)
    return seen


def read_cells(results_dir: Path) -> list[CellObs]:
    from loadgen.analysis.parallel import parallel_map

    paths = [d / SUMMARY_FILE for d in cell_dirs(results_dir) if (d / RECORDS_PARQUET).is_file()]
    if not paths:
        raise FileNotFoundError(
            f"no cells (*/summary.json with requests.parquet) under {results_dir}"
        )
    return parallel_map(read_cell, paths, min_items=8)


def _step_ids(times: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Each chunk's engine step: chunks closer in time than half the shortest usual gap between
    one request's chunks (its 5th percentile, over the gaps of chunks read apart: a late read's
    burst has gaps of microseconds and would make every chunk a step of its own)."""
    gaps = np.diff(times)
    own = gaps[(parent[1:] == parent[:-1]) & (gaps >= BURST_GAP_NS)]
    threshold = 0.5 * float(np.quantile(own, 0.05)) if len(own) else 0.0
    order = np.argsort(times, kind="stable")
    ids = np.empty(len(times), dtype=np.int64)
    ids[order] = np.concatenate([[0], np.cumsum(np.diff(times[order]) > threshold)])
    return ids
