"""One prompt of a prepared set -> one streamed request -> one record. Shared by the Locust user,
the CLI's warm-up and the tests, so all of them measure the same way."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import requests

from loadgen.client.record import RequestRecord
from loadgen.client.stream import completion_body, send_completion
from loadgen.data.prepared import PreparedPrompt

COMPLETIONS_PATH = "/v1/completions"


@dataclass(frozen=True)
class RequestSettings:
    """What every request of a run shares: the server, output length, model name, timeout."""

    base_url: str
    osl: int
    model: str | None
    timeout_s: float

    def send(
        self, session: requests.Session, prompt: PreparedPrompt, intended_send_ns: int | None = None
    ) -> RequestRecord:
        return run_prompt(
            session, self.base_url, prompt, self.osl, self.model, self.timeout_s, intended_send_ns
        )


def run_prompt(
    session: requests.Session,
    base_url: str,
    prompt: PreparedPrompt,
    osl: int,
    model: str | None,
    timeout_s: float,
    intended_send_ns: int | None = None,
) -> RequestRecord:
    record = RequestRecord(
        request_id=uuid.uuid4().hex,
        question_id=prompt.question_id,
        bucket=prompt.bucket,
        category=prompt.category,
        prompt_len=prompt.isl,
        max_tokens=osl,
        intended_send_ns=intended_send_ns or time.perf_counter_ns(),
        wall_start=time.time(),
    )
    body = completion_body(prompt.prompt_token_ids, osl, model)
    return send_completion(
        session, base_url.rstrip("/") + COMPLETIONS_PATH, body, record, timeout_s
    )
