"""Regenerate every file derived from ``servers/*.yaml``: ``compose.yaml``,
``docker/prometheus.yml`` and ``k8s/values/<variant>.yaml``.

Run ``python -m loadgen.servers.generate`` after changing a variant; tests fail while a committed
file differs from what this writes.
"""

from __future__ import annotations

import argparse

from loadgen.servers import compose, helm_values
from loadgen.servers.compose import REPO_ROOT


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    for path in [*compose.write_all(), *helm_values.write_all()]:
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
