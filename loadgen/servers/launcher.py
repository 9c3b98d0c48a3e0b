"""Start a server variant as a local process, wait until it is healthy, stop it cleanly.

Only engines that run without a GPU can be launched here (vLLM-CPU); GPU variants are started by
``docker compose`` or Helm and reached by URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from loadgen.servers.command import local_entrypoint, server_args
from loadgen.servers.variant import ServerVariant

# Engines that run without a GPU, as a process of this machine (vLLM-CPU).
LOCAL_ENGINES = ("vllm",)


class LaunchError(RuntimeError):
    pass


def _preload(libs: list[str]) -> list[str]:
    dirs = [Path(sys.prefix) / "lib", Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib")]
    found = []
    for lib in libs:
        paths = [d / lib for d in dirs if (d / lib).is_file()]
        if paths:
            found.append(str(paths[0]))
    return found


class LocalServer:
    def __init__(
        self, variant: ServerVariant, model: str, log_path: Path, port: int | None = None
    ) -> None:
        if variant.engine not in LOCAL_ENGINES or variant.gpus:
            raise LaunchError(
                f"variant {variant.name!r} ({variant.engine}, {variant.gpus} GPU) cannot be "
                "launched as a local process here: start it with docker compose or Helm and pass "
                "its URL instead"
            )
        self.variant = variant
        self.port = port or variant.port
        self.log_path = log_path
        self.command = [
            *local_entrypoint(variant),
            *server_args(variant, model, "127.0.0.1", self.port),
        ]
        self.preloaded = _preload(variant.preload_libs)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with the variant's variables and its preloaded libraries (``LD_PRELOAD``)."""
        env = {**base, **self.variant.env}
        if self.preloaded:
            env["LD_PRELOAD"] = ":".join([*self.preloaded, env.get("LD_PRELOAD", "")]).rstrip(":")
        return env

    def start(self) -> None:
        env = self.environment(dict(os.environ))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    def wait_healthy(self, progress: bool = False) -> float:
        """Seconds until ``/health`` answered 200; fails early if the process dies."""
        assert self._proc is not None, "start() first"
        started = time.monotonic()
        deadline = started + self.variant.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LaunchError(
                    f"{self.variant.name} exited with code {self._proc.returncode} while starting; "
                    f"last log lines:\n{self._log_tail()}"
                )
            try:
                if requests.get(self.url + self.variant.health_path, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(1.0)
        self.stop()
        raise LaunchError(
            f"{self.variant.name} not healthy after {self.variant.startup_timeout_s:.0f} s "
            f"(raise startup_timeout_s in servers/{self.variant.name}.yaml); log: {self.log_path}"
        )

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash or the OOM killer would (no
        clean shutdown); ``stop()`` afterwards does nothing."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def _log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
