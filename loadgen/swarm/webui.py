"""A "speedbench" tab in Locust's web UI: live output tokens/s and the tokens-per-chunk histogram.

Uses Locust's documented extension points: ``extendedTabs``/``extendedTables`` template args and an
``extendedStats`` entry added to the ``/stats/requests`` JSON the UI polls.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, request
from locust.env import Environment

from loadgen.swarm.live_tokens import LiveTokens

TAB_KEY = "speedbench"


def extend_web_ui(environment: Environment, live: Callable[[], LiveTokens | None]) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    web_ui.template_args["extendedTabs"] = [{"title": "speedbench", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": TAB_KEY,
            "structure": [{"key": "name", "title": "Figure"}, {"key": "value", "title": "Value"}],
        }
    ]

    @web_ui.app.after_request
    def add_live_figures(response: Response) -> Response:
        if request.path != "/stats/requests" or response.json is None:
            return response
        tokens = live()
        rows = tokens.rows() if tokens is not None else []
        data = {**response.json, "extendedStats": [{"key": TAB_KEY, "data": rows}]}
        response.set_data(json.dumps(data))
        return response
