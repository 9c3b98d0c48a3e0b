"""The real checkers the deploy tests run (no Docker engine, no cluster, no helm binary needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "k8s" / "speedbench"
VALUES_DIR = REPO / "k8s" / "values"
KUBE_VERSION = "1.30.0"
# checkov pins old boto3/packaging/networkx, so .ci/setup installs it in a virtualenv of its own.
CHECKOV_VENV = REPO / ".tools" / "checkov" / "bin" / "checkov"


def render_chart(values: dict[str, Any], name: str = "sb", namespace: str = "bench") -> str:
    """All manifests of one release, as one multi-document YAML (NOTES.txt left out)."""
    rendered = helm_python.Chart.load(CHART).render(values=values, name=name, namespace=namespace)
    return "\n---\n".join(text for path, text in sorted(rendered.items()) if path.endswith(".yaml"))


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def checkov_binary() -> str:
    found = shutil.which("checkov") or (str(CHECKOV_VENV) if CHECKOV_VENV.is_file() else None)
    if found is None:
        raise RuntimeError("checkov is not installed: run `bash .ci/setup` (it installs it)")
    return found


def checkov_scan(directory: Path, *frameworks: str) -> dict[str, Any]:
    """Failed and skipped check ids (per framework) and the number of passed checks."""
    proc = subprocess.run(
        [
            checkov_binary(),
            "--skip-download",
            "-d",
            str(directory),
            "--framework",
            *frameworks,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    scan: dict[str, Any] = {"failed": [], "skipped": set(), "passed": {}}
    for report in reports:
        results = report["results"]
        scan["passed"][report["check_type"]] = report["summary"]["passed"]
        scan["failed"] += [f"{c['check_id']} {c['resource']}" for c in results["failed_checks"]]
        scan["skipped"] |= {c["check_id"] for c in results.get("skipped_checks", [])}
    return scan


def kubernetes_validate(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubernetes_validate",
            "-k",
            KUBE_VERSION,
            "--strict",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def compose_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
