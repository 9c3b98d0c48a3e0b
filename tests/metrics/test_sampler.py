import json
import time
from pathlib import Path

from loadgen.metrics.sampler import Sampler
from tests.fakes.exposition_server import Exposition, serving


def test_polls_before_during_and_after_and_logs_each(tmp_path: Path) -> None:
    page = Exposition("a 1\n")
    log = tmp_path / "polls.jsonl"
    with serving(page) as url:
        sampler = Sampler([url + "/metrics"], interval_s=0.1, log_path=log).start()
        first = sampler.polls[0][0]
        page.set("a 2\n")
        time.sleep(0.45)
        page.set("a 3\n")
        polls = sampler.stop()[0]
    assert first.body == "a 1\n"  # taken in start(), before the load
    assert polls[-1].body == "a 3\n"  # taken in stop(), after it
    # start + 4 timed polls in 0.45 s + stop = 6, measured 6 in 12 runs (load average 0.7-5.1);
    # one late poll allowed
    assert len(polls) >= 5 and any(p.body == "a 2\n" for p in polls)
    assert [p.wall for p in polls] == sorted(p.wall for p in polls)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["body"] for x in lines] == [p.body for p in polls]


def test_an_unreachable_target_is_recorded_not_raised(tmp_path: Path) -> None:
    with serving(Exposition("x 1\n")) as url:
        sampler = Sampler([url, "http://127.0.0.1:9/metrics"], 0.05, timeout_s=0.5).start()
        polls = sampler.stop()
    assert all(p.error is None for p in polls[0])
    assert polls[1] and all(p.error and "Connection" in p.error for p in polls[1])
