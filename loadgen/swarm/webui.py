"""The "speedbench" tab of Locust's web UI, and the start form's speedbench options checked
before a run starts.

Locust's documented extension points give a table (``extendedTabs`` / ``extendedTables`` and an
``extendedStats`` entry in the ``/stats/requests`` JSON the UI polls). The charts are drawn by a
small script the index page loads (``static/speedbench.js``, inline SVG, no network): it polls
``/speedbench/live`` and draws under the table while the tab is open.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from flask import Response, jsonify, request
from locust.env import Environment

from loadgen.swarm import options
from loadgen.swarm.live_tokens import LiveTokens

TAB_KEY = "speedbench"
SCRIPT = Path(__file__).with_name("static") / "speedbench.js"
SCRIPT_TAG = b'<script src="./speedbench/charts.js"></script></body>'


def checked_form(environment: Environment) -> str | None:
    """The start form's values through the same validation as the command line: the problem,
    or None."""
    opts = environment.parsed_options
    if opts is None:
        return None
    values = vars(opts).copy()
    for key in options.PER_RUN:
        if key in request.form:
            raw = request.form[key]
            values[key] = (raw == "true") if isinstance(values.get(key), bool) else raw or None
    if "user_count" in request.form:
        values["num_users"] = request.form["user_count"]
    host = request.form.get("host") or environment.host or ""
    try:
        options.run_spec(argparse.Namespace(**values), host)
    except ValueError as exc:
        return str(exc)
    return None


def extend_web_ui(environment: Environment, live: Callable[[], LiveTokens | None]) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    app = web_ui.app
    web_ui.template_args["extendedTabs"] = [{"title": "speedbench", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": TAB_KEY,
            "structure": [{"key": "name", "title": "Figure"}, {"key": "value", "title": "Value"}],
        }
    ]

    @app.before_request
    def refuse_bad_form() -> Response | None:
        if request.path.rstrip("/").endswith("/swarm") and request.method == "POST":
            problem = checked_form(environment)
            if problem is not None:
                return jsonify({"success": False, "message": problem, "host": environment.host})
        return None

    @app.route("/speedbench/live")
    def live_charts() -> Response:
        tokens = live()
        return jsonify(tokens.charts() if tokens is not None else {})

    @app.route("/speedbench/charts.js")
    def charts_script() -> Response:
        return Response(SCRIPT.read_text(), mimetype="application/javascript")

    @app.after_request
    def add_live_figures(response: Response) -> Response:
        if request.path == "/" and response.mimetype == "text/html":
            response.direct_passthrough = False
            response.set_data(response.get_data().replace(b"</body>", SCRIPT_TAG, 1))
            return response
        if request.path != "/stats/requests" or response.json is None:
            return response
        tokens = live()
        rows = tokens.rows() if tokens is not None else []
        data = {**response.json, "extendedStats": [{"key": TAB_KEY, "data": rows}]}
        response.set_data(json.dumps(data))
        return response
