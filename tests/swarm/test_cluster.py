"""The distributed Locust command lines compose and the Helm chart run (no wrapper: the master
writes the complete cell itself, tested in tests/swarm/test_locust_cells.py)."""

from loadgen.swarm.cluster import LoadPlan, master_command, worker_command

PLAN = LoadPlan("3", "12", "6", "10m", "http://engine:8000", "/results")


def test_master_and_worker_command_lines() -> None:
    locust = master_command(PLAN)  # plain Locust: it writes the complete cell itself
    assert locust[:3] == ["locust", "-f", "loadgen/speed.py,loadgen/locust_metrics.py"]
    for flag, value in (("--expect-workers", "3"), ("-u", "12"), ("-r", "6"), ("-t", "10m")):
        assert locust[locust.index(flag) + 1] == value
    assert "--master" in locust and "--headless" in locust
    assert locust[locust.index("--host") + 1] == "http://engine:8000"
    assert locust[locust.index("--out") + 1] == "/results"
    worker = worker_command(PLAN, "master-svc")
    assert worker[worker.index("--master-host") + 1] == "master-svc" and "--worker" in worker
    assert worker[worker.index("--expect-workers") + 1] == "3"
