"""`speedbench run` metrics options -> the cell's metrics window."""

from loadgen.cli import _metrics_urls, build_parser


def parse(*extra: str):  # type: ignore[no-untyped-def]
    base = ["run", "--url", "http://h:8000/", "--data", "d", "--out", "o"]
    return build_parser().parse_args([*base, *extra])


def test_default_metrics_url_follows_the_engine_adapter() -> None:
    assert _metrics_urls(parse()) == ["http://h:8000/metrics"]
    assert _metrics_urls(parse("--engine", "trtllm")) == ["http://h:8000/prometheus/metrics"]


def test_one_metrics_url_per_replica_and_a_prometheus_server() -> None:
    args = parse(
        "--metrics-url", "http://a:1/metrics", "--metrics-url", "http://b:1/metrics",
        "--prometheus-url", "http://prom:9090", "--poll-interval", "0.5",
    )  # fmt: skip
    assert _metrics_urls(args) == ["http://a:1/metrics", "http://b:1/metrics"]
    assert args.prometheus_url == "http://prom:9090" and args.poll_interval == 0.5
