"""Which engine steps prefilled which prompt tokens, from what a client sees, so that the fit
charges a decode row only the prefill work done in its own steps.

With a token budget B (vLLM's chunked prefill) a prompt of P tokens is prefilled in
ceil(P / B) chunks, one a step: full chunks of B in the steps before the one its first token
came from, the remainder in that one. Where such an earlier step began before the prompt was
sent (the step before it had already been read), the chunk ran in a step no stream saw (nobody
was decoding) and lies in no decode row. Without a budget a prompt is prefilled whole in the
step of its first token.

Left out: the budget's decode tokens (a step's few against its thousands), and prompts that
share a step's budget (first come, first served: a prompt queued behind another starts in that
one's last step). Placing such prompts as one stream of tokens was tried against a FAKE engine
that logs its steps (docs/BENCHMARKS.md, issue 16, fifteenth session) and got more rows wrong
than it put right: a prompt sent while another's last step runs waits for the next step.
"""

from __future__ import annotations

import numpy as np

Pieces = tuple[np.ndarray, np.ndarray, np.ndarray]  # per chunk: step, tokens, attention pairs


def place(
    tokens: np.ndarray,
    sent_ns: np.ndarray,
    first_step: np.ndarray,
    step_read_ns: np.ndarray,
    budget: int | None,
) -> Pieces:
    """The prompts' prefill chunks: the step each ran in (``len(step_read_ns)``: a step no
    stream saw), its tokens and its attention's (token, token attended) pairs (a token attends
    to the prompt before it: a chunk of positions [s, e) has (e^2 - s^2) / 2)."""
    if budget is None or not len(tokens):
        return first_step, tokens, tokens**2 / 2
    n = np.maximum(np.ceil(tokens / budget), 1).astype(np.int64)
    owner = np.repeat(np.arange(len(tokens)), n)
    index = np.arange(len(owner)) - np.repeat(np.cumsum(n) - n, n)  # chunk of its prompt
    start = index * budget
    end = np.minimum(start + budget, tokens[owner])
    step = first_step[owner] - (n[owner] - 1 - index)
    began = np.where(step >= 1, step_read_ns[np.maximum(step - 1, 0)], np.iinfo(np.int64).min)
    seen = (step == first_step[owner]) | (began >= sent_ns[owner])
    return np.where(seen, step, len(step_read_ns)), end - start, (end**2 - start**2) / 2
