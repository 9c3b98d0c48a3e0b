"""Literal engine and Locust command lines, written out by hand and read against the engines'
own documented flags: compose.yaml and the Helm chart are held to these, not to the generator
that wrote them (a generator bug would otherwise pass its own test). ``MODEL`` stands for the
model argument each deployment fills in its own way."""

MODEL = "<model>"
VLLM = ["--host", "0.0.0.0", "--port", "8000"]
ENGINE_COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "vllm-cpu-ngram": (
        ["python", "-m", "vllm.entrypoints.openai.api_server"],
        ["--model", MODEL, *VLLM, "--max-model-len", "8192", "--seed", "0",
         "--max-num-seqs", "64", "--speculative-config",
         '{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 3}'],
    ),
    "vllm-eagle": (
        ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        ["--model", MODEL, *VLLM, "--max-model-len", "40960", "--seed", "0",
         "--max-num-seqs", "64", "--gpu-memory-utilization", "0.90",
         "--no-enable-prefix-caching", "--speculative-config",
         '{"method": "eagle3", "model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B", '
         '"num_speculative_tokens": 3}'],
    ),
    "sglang-eagle": (
        ["python3", "-m", "sglang.launch_server"],
        ["--model-path", MODEL, *VLLM, "--context-length", "40960", "--random-seed", "0",
         "--max-running-requests", "64", "--mem-fraction-static", "0.85",
         "--disable-radix-cache", "--enable-metrics", "--speculative-algorithm", "EAGLE3",
         "--speculative-draft-model-path", "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B",
         "--speculative-num-steps", "3", "--speculative-eagle-topk", "1",
         "--speculative-num-draft-tokens", "4"],
    ),
    "trtllm-eagle": (
        ["trtllm-serve"],
        [MODEL, *VLLM, "--max_seq_len", "40960", "--max_batch_size", "64",
         "--extra_llm_api_options", "/etc/speedbench/engine-config.yaml"],
    ),
}  # fmt: skip
LOCUSTFILES = "loadgen/speed.py,loadgen/locust_metrics.py"


def master(workers: str, users: str, rate: str, run_time: str, host: str) -> list[str]:
    """The master's command: plain headless Locust writing the complete cell into /results."""
    return [
        "locust", "-f", LOCUSTFILES, "--master", "--expect-workers", workers, "--headless",
        "-u", users, "-r", rate, "-t", run_time, "--host", host, "--out", "/results",
    ]  # fmt: skip


def worker(master_host: str, workers: str) -> list[str]:
    return ["locust", "-f", LOCUSTFILES, "--worker", "--master-host", master_host,
            "--expect-workers", workers]  # fmt: skip


def with_model(args: list[str], model: str) -> list[str]:
    return [model if a == MODEL else a for a in args]
