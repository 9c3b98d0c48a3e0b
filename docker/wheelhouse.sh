#!/usr/bin/env bash
# Wheels for an offline image build, made on a machine that reaches the package index: every
# dependency of the loadgen and vllm-cpu images (`.[engine]`, plus setuptools to build the
# package), as wheels in DIR (default docker/wheelhouse, where docker/Dockerfile looks).
# Run it with the images' Python (3.11, Linux x86_64, glibc >= 2.28), then copy the repository
# to the air-gapped machine and build there: nothing is fetched.
#   docker/wheelhouse.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DIR="${1:-docker/wheelhouse}"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the images run Python 3.11"'
mkdir -p "$DIR"
"$PY" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$DIR" '.[engine]' setuptools wheel
rm -f "$DIR"/speedbench-*.whl   # the package itself is built from the sources in the image
ls "$DIR"/*.whl | wc -l
