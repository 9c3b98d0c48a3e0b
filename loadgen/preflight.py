"""Refuse bad input before any load is sent, with a message naming the problem and the fix.

Every entry point (``speedbench run``, ``sweep``, ``demo``, the Locust file) calls
``preflight`` once per server, after the server is up and before the first request. It checks:
the prompts about to be sent (enough of them, none empty, no licence placeholder); that the URL
answers, over verified TLS, with the API key accepted; that the requested model is served; that
the longest prompt plus the output length fits the server's maximum model length (asked from the
server); and that the server tokenizes a probe text exactly as the tokenizer the data was
prepared with. What an engine cannot tell (its entry in ``loadgen.engines``) is a warning, never
a guess.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from loadgen.client.access import ServerAccess
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.data.schema import PLACEHOLDER
from loadgen.engines import Engine, engine_for

PROBE_TIMEOUT_S = 15.0
Warn = Callable[[str], None]


class PreflightError(ValueError):
    pass


def warn_stderr(message: str) -> None:
    print(f"speedbench: warning: {message}", file=sys.stderr, flush=True)


@dataclass
class PreflightReport:
    url: str
    model: str | None = None
    max_model_len: int | None = None
    longest_request: int = 0
    tokenizer_match: bool | None = None  # None: not checked (see warnings)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        length = "unknown" if self.max_model_len is None else str(self.max_model_len)
        tokenizer = {True: "matches", False: "differs", None: "not checked"}[self.tokenizer_match]
        return (
            f"preflight {self.url}: model {self.model!r}, max_model_len {length} (longest "
            f"prompt + osl {self.longest_request}), tokenizer {tokenizer}"
        )


def preflight(
    access: ServerAccess,
    engine: str,
    model: str | None,
    data_dir: Path,
    buckets: Sequence[str],
    start: int,
    count: int | None,
    osl: int,
    warn: Warn = warn_stderr,
) -> PreflightReport:
    """``count`` prompts from ``start`` of each bucket (None: the rest) are about to be sent."""
    entry = engine_for(engine)
    prepared = PreparedSet.read(data_dir)
    prompts = [p for b in buckets for p in _slice(prepared, data_dir, b, start, count)]
    check_prompts(prompts, data_dir)
    report = PreflightReport(access.url, longest_request=max(p.isl for p in prompts) + osl)
    with access.session() as session:
        card = _model_card(session, access, entry, model, report, warn)
        # tokenizer first: with another tokenizer the prompts' lengths mean nothing
        _check_tokenizer(session, access, entry, model, prepared.manifest, report, warn)
        _check_length(card, entry, access, prompts, osl, report, warn)
    return report


def _slice(
    prepared: PreparedSet, data_dir: Path, bucket: str, start: int, count: int | None
) -> list[PreparedPrompt]:
    have = prepared.bucket(bucket)
    chosen = have[start:] if count is None else have[start : start + count]
    if not chosen or (count is not None and len(chosen) < count):
        need = "at least one" if count is None else str(count)
        raise PreflightError(
            f"bucket {bucket!r} of {data_dir} has {len(have)} prompts; this run needs {need} "
            f"from prompt {start} on (warm-up + requests): lower --requests / --warmup / "
            "--prompt-start, or prepare more rows"
        )
    return chosen


def check_prompts(prompts: Sequence[PreparedPrompt], data_dir: Path) -> None:
    """Prompts that must never be sent: licence placeholders, empty token lists."""
    held = [p.question_id for p in prompts if any(PLACEHOLDER in t for t in p.turns)]
    if held:
        raise PreflightError(
            f"{len(held)} prompt(s) of {data_dir} hold the licence placeholder text (e.g. "
            f"question_id {held[0]}), which must never be sent: prepare the full rows (NVIDIA's "
            "specdec_bench scripts), or re-prepare with --skip-placeholders to drop them"
        )
    empty = [p.question_id for p in prompts if not p.prompt_token_ids]
    if empty:
        raise PreflightError(
            f"{len(empty)} prompt(s) of {data_dir} have no token ids (e.g. question_id "
            f"{empty[0]}): the prepared set is damaged; re-run `speedbench data prepare`"
        )


def _get_json(
    session: requests.Session, access: ServerAccess, method: str, path: str, body: Any = None
) -> requests.Response:
    url = access.url + path
    try:
        return session.request(method, url, json=body, timeout=PROBE_TIMEOUT_S)
    except requests.exceptions.SSLError as exc:
        raise PreflightError(
            f"TLS verification of {access.url} failed ({_reason(exc)}): pass --ca-bundle PATH "
            "(or $SPEEDBENCH_CA_BUNDLE) with the PEM of the CA that signed the server's "
            "certificate; a plain-HTTP server needs an http:// URL"
        ) from None
    except requests.ConnectionError as exc:
        raise PreflightError(
            f"cannot reach the server at {access.url} ({_reason(exc)}): is it running and "
            "listening there? Check --url (scheme, host and port; no path such as /v1)"
        ) from None
    except requests.Timeout:
        raise PreflightError(
            f"the server at {access.url} did not answer {path} within {PROBE_TIMEOUT_S:.0f} s: "
            "is it still starting or overloaded? Wait until its health endpoint answers"
        ) from None


REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("Failed to resolve", "host name not found"),
    ("timed out", "connection timed out"),
)


def _reason(exc: Exception) -> str:
    text = str(exc)
    tls = re.search(r"certificate verify failed: ([^(']+)", text)
    if tls:
        return "certificate verify failed: " + tls.group(1).strip()
    return next((reason for needle, reason in REASONS if needle in text), type(exc).__name__)


def _model_card(
    session: requests.Session,
    access: ServerAccess,
    engine: Engine,
    model: str | None,
    report: PreflightReport,
    warn: Warn,
) -> dict[str, Any]:
    api = engine.api
    response = _get_json(session, access, "GET", api.models_path)
    if response.status_code in (401, 403):
        if access.api_key is None:
            raise PreflightError(
                f"the server at {access.url} requires an API key (HTTP {response.status_code} "
                f"on {api.models_path}): export SPEEDBENCH_API_KEY or pass --api-key-file PATH "
                "(never the key itself on the command line)"
            )
        raise PreflightError(
            f"the server at {access.url} refused the API key from {access.key_origin} (HTTP "
            f"{response.status_code} on {api.models_path}): give the key the server was started "
            "with (vLLM: --api-key or $VLLM_API_KEY)"
        )
    if response.status_code == 404:
        raise PreflightError(
            f"{access.url} answered 404 for {api.models_path}: not the root of an "
            "OpenAI-compatible server? Give --url without a path, e.g. http://host:8000"
        )
    try:
        response.raise_for_status()
        cards: list[dict[str, Any]] = response.json()["data"]
    except (requests.HTTPError, ValueError, KeyError, TypeError):
        raise PreflightError(
            f"{access.url}{api.models_path} answered HTTP {response.status_code} without a "
            f"model list ({response.text[:150]!r}): is --url an {engine.name} server?"
        ) from None
    served = [str(c.get("id")) for c in cards]
    if not cards or (model is not None and model not in served):
        raise PreflightError(
            f"the server at {access.url} serves {served}, not model {model!r}: pass --model "
            "(plan: served_model_name) as one of those names"
        )
    card = next(c for c in cards if model is None or c.get("id") == model)
    if model is None and len(cards) > 1:
        report.warnings.append(f"several models served {served}; checked {served[0]}")
        warn(report.warnings[-1] + " (pass --model to choose)")
    report.model = str(card.get("id"))
    return card


def _check_length(
    card: dict[str, Any],
    engine: Engine,
    access: ServerAccess,
    prompts: Sequence[PreparedPrompt],
    osl: int,
    report: PreflightReport,
    warn: Warn,
) -> None:
    api = engine.api
    found = [card[f] for f in api.max_len_fields if isinstance(card.get(f), int)]
    if not found:
        report.warnings.append(
            f"{engine.name} does not report its maximum model length at {api.models_path}: "
            "the prompt + output length check is skipped; make sure ISL + --osl fits the "
            "server's context"
        )
        warn(report.warnings[-1])
        return
    report.max_model_len = limit = found[0]
    too_long = [p for p in prompts if p.isl + osl > limit]
    if too_long:
        longest = max(p.isl for p in prompts)
        raise PreflightError(
            f"{len(too_long)} of {len(prompts)} prompts are too long for the server at "
            f"{access.url}: the longest has {longest} tokens, plus --osl {osl} makes "
            f"{longest + osl}, above its max_model_len {limit} (from {api.models_path}). Fix: "
            f"lower --osl to at most {limit - longest}, use a shorter bucket, or restart the "
            f"server with a larger --max-model-len (at least {longest + osl})"
        )


def _check_tokenizer(
    session: requests.Session,
    access: ServerAccess,
    engine: Engine,
    model: str | None,
    manifest: dict[str, Any],
    report: PreflightReport,
    warn: Warn,
) -> None:
    api = engine.api
    probe = manifest.get("tokenizer_probe")
    name = manifest.get("tokenizer", {}).get("name")
    skipped = None
    if api.tokenize is None:
        skipped = f"{engine.name} has no tokenize endpoint"
    elif probe is None:
        skipped = "the prepared set has no tokenizer probe (re-prepare it to enable the check)"
    if api.tokenize is None or probe is None:
        report.warnings.append(
            f"{skipped}: cannot check that the server's tokenizer matches {name!r}, the one the "
            "data was prepared with; make sure they are the same"
        )
        warn(report.warnings[-1])
        return
    body = {api.tokenize.text_field: probe["text"], "add_special_tokens": False}
    if model:
        body["model"] = model
    response = _get_json(session, access, "POST", api.tokenize.path, body)
    try:
        response.raise_for_status()
        server_ids = [int(i) for i in response.json()[api.tokenize.ids_field]]
    except (requests.HTTPError, ValueError, KeyError, TypeError):
        report.warnings.append(
            f"{access.url}{api.tokenize.path} answered HTTP {response.status_code}: tokenizer "
            f"check skipped; make sure the server uses the tokenizer of {name!r}"
        )
        warn(report.warnings[-1])
        return
    local_ids: list[int] = probe["ids"]
    report.tokenizer_match = server_ids == local_ids
    if not report.tokenizer_match:
        at = next(
            (i for i, (s, h) in enumerate(zip(server_ids, local_ids, strict=False)) if s != h),
            min(len(server_ids), len(local_ids)),
        )
        raise PreflightError(
            f"the server at {access.url} tokenizes differently from {name!r}, the tokenizer the "
            f"data was prepared with: a probe text gives {len(server_ids)} ids there and "
            f"{len(local_ids)} here, first difference at position {at}. The token-id prompts "
            "would be read as other text. Fix: prepare the data with the served model "
            "(`speedbench data prepare --model <served model>`), or point --url at the server "
            "of the model the data was prepared for"
        )
