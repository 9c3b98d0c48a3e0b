"""The client-side metric definitions, written once: every consumer calls these.

A request's stream is a list of chunks, each with its arrival time (``perf_counter_ns``) and the
tokens it carried. Chunks without tokens (role-only, usage-only) are left out of every figure.

- **Token chunks**: the chunks that carried tokens, as (time, tokens).
- **Steps** (client view): the token chunks *after the first*. The first chunk is the prefill
  step's output (one token, no draft yet); each later chunk is one target-model step when the
  server streams every step, so its size is 1 + the drafts accepted in that step.
- **Tokens per step** (``client_tokens_per_chunk``): tokens in the steps / steps, pooled over
  requests as a ratio of sums (never a mean of per-request means: long requests weigh more,
  as they do for the server's counters). The client's estimate of the acceptance length; a
  server or proxy that coalesces steps into one chunk inflates it.
- **Client accepted tokens**: tokens beyond one per step, over the steps only, i.e. tokens in
  the steps minus the steps. The first chunk is excluded: its first token is the prefill's, not
  an accepted draft, and extra tokens in it can only come from merged steps whose number is
  unknown. With this definition ``1 + accepted / steps`` equals tokens per step, as the server's
  ``1 + accepted / drafts`` is its acceptance length.
- **TTFT**: first token chunk - send. **TPOT**: (last token chunk - first) / tokens after the
  first chunk. **ITL**: one value per token after the first chunk, its chunk's gap / its size
  (SD delivers several tokens per chunk: latencies are per token, never per chunk).
  **E2E**: end - send. Open-loop cells may count TTFT and E2E from the intended send time.
- **Stalled delivery**: a run of at least ``BURST_CHUNKS`` token chunks that arrived less than
  ``BURST_GAP_NS`` apart. An engine step takes far longer than 50 us and yields one chunk per
  request, so such a run is bytes that piled up while the client was not reading (or the server
  not sending): the stream stalled. ``stall_ms`` is the longest gap before such a run (from the
  send when the run starts at the first chunk); that request's TTFT / TPOT / ITL are the
  stall's, not the engine's. On the 2-core machines here, another process taking the CPU made
  streams stall for 100-600 ms (docs/BENCHMARKS.md, "Stalled delivery").

``loadgen/analysis/columns.py`` evaluates the same definitions vectorised over a Parquet table
(tests/analysis/test_columns.py holds it equal to these, record by record).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

NS_PER_MS = 1_000_000

Chunk = tuple[int, int]  # (arrival ns, tokens)


def token_chunks(chunk_ns: Sequence[int], chunk_tokens: Sequence[int]) -> list[Chunk]:
    """(time, tokens) of the chunks that carried tokens."""
    return [(t, n) for t, n in zip(chunk_ns, chunk_tokens, strict=True) if n > 0]


def step_sizes(chunks: Sequence[Chunk]) -> list[int]:
    """Tokens of each step: the token chunks after the first (prefill) one."""
    return [n for _, n in chunks[1:]]


def tokens_per_step(tokens: float, steps: float) -> float | None:
    """Pooled tokens per step (``client_tokens_per_chunk``); None without any step."""
    return float(tokens) / float(steps) if steps else None


def accepted_tokens(tokens: float, steps: float) -> float:
    """Client accepted tokens: tokens in the steps beyond one per step."""
    return float(tokens) - float(steps)


def pooled_steps(sizes: Iterable[Sequence[int]]) -> tuple[int, int]:
    """(tokens, steps) summed over requests' step sizes."""
    tokens = steps = 0
    for one in sizes:
        tokens += sum(one)
        steps += len(one)
    return tokens, steps


def ttft_ms(chunks: Sequence[Chunk], send_ns: int) -> float | None:
    return (chunks[0][0] - send_ns) / NS_PER_MS if chunks else None


def tpot_ms(chunks: Sequence[Chunk]) -> float | None:
    """(last - first token chunk) / tokens after the first chunk; None with fewer than two."""
    if len(chunks) < 2:
        return None
    return (chunks[-1][0] - chunks[0][0]) / sum(step_sizes(chunks)) / NS_PER_MS


def itl_ms(chunks: Sequence[Chunk]) -> list[float]:
    """One inter-token latency per token after the first chunk: its chunk's gap / its size."""
    out: list[float] = []
    for (prev, _), (now, n) in itertools.pairwise(chunks):
        out += [(now - prev) / n / NS_PER_MS] * n
    return out


def chunk_gap_ms(chunks: Sequence[Chunk]) -> list[float]:
    """Gaps between consecutive token chunks (one per step, not per token)."""
    return [(b[0] - a[0]) / NS_PER_MS for a, b in itertools.pairwise(chunks)]


def e2e_ms(send_ns: int, end_ns: int) -> float:
    return (end_ns - send_ns) / NS_PER_MS


BURST_GAP_NS = 50_000  # chunks closer than this came out of one read, not out of engine steps
BURST_CHUNKS = 8  # this many in a row: a stall, not two events sharing one TCP segment


def stall_ms(chunks: Sequence[Chunk], send_ns: int) -> float:
    """The longest gap before a burst of ``BURST_CHUNKS`` chunks; 0.0 when the stream had none."""
    longest, run_start, run = 0.0, 0, 1
    for i in range(1, len(chunks)):
        if chunks[i][0] - chunks[i - 1][0] < BURST_GAP_NS:
            run += 1
            if run == BURST_CHUNKS:
                before = chunks[run_start - 1][0] if run_start else send_ns
                longest = max(longest, (chunks[run_start][0] - before) / NS_PER_MS)
        else:
            run_start, run = i, 1
    return longest
