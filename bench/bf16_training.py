"""Training step time in float32 against bfloat16 autocast, side by side in one run, on real train rows.

    python bench/bf16_training.py [--base bases/navec-bert --base bases/e5-small ...] [--steps 6] [--rows 256]

On CPUs with AMX (or AVX512-BF16) oneDNN multiplies bfloat16 several times faster than float32; this measures
what that gives a whole optimizer step (forward, backward, AdamW) of the project's models, with the batches the
Trainer would build: the first `--rows` paragraphs of data/labeled/train.jsonl with the config's context,
batch 32, sorted by length as the Trainer's length grouping does. Each variant is timed twice, interleaved,
best of the two kept, after one warm-up step. `--layers N` keeps the first N encoder layers (as
`model.num_layers` does); `--freeze N` freezes the embeddings and the lowest N layers.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.backends import cpu_has_bf16  # noqa: E402
from inference.classifier import ClassifierSettings, encode_windows  # noqa: E402
from inference.readers import read_labeled  # noqa: E402
from training.data import with_context  # noqa: E402


def batches(tokenizer, rows, settings: ClassifierSettings, token_types: bool, size: int = 32):
    import torch

    enc = encode_windows(tokenizer, [r.text for r in rows], [r.context for r in rows], settings, token_types)
    order = sorted(range(len(enc["input_ids"])), key=lambda i: len(enc["input_ids"][i]))
    out = []
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        width = max(len(enc["input_ids"][i]) for i in idx)
        ids = torch.full((len(idx), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            n = len(enc["input_ids"][i])
            ids[row, :n] = torch.tensor(enc["input_ids"][i])
            mask[row, :n] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 5, (len(idx),))})
    return out


def build(base: str, layers: int | None, freeze: int):
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    extra = {"num_hidden_layers": layers} if layers else {}
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=5, use_safetensors=True, **extra)
    if freeze:
        for p in model.bert.embeddings.parameters():
            p.requires_grad_(False)
        for layer in model.bert.encoder.layer[:freeze]:
            for p in layer.parameters():
                p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    return model.train(), opt


def step_seconds(model, opt, data, bf16: bool) -> float:
    import torch

    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    started = time.perf_counter()
    for batch in data:
        with ctx():
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return (time.perf_counter() - started) / len(data)


def main(argv=None) -> int:
    import torch
    from transformers import AutoTokenizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", action="append", help="base folder; repeat (default: bases/navec-bert)")
    p.add_argument("--layers", type=int, help="keep the first N encoder layers")
    p.add_argument("--freeze", type=int, default=0, help="freeze embeddings and the lowest N layers")
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--steps", type=int, default=6, help="batches timed per variant and repeat")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"bfloat16 in hardware: {cpu_has_bf16()}; {args.threads} threads", flush=True)
    settings = ClassifierSettings(max_length=128, context="title+previous", context_tokens=48)
    rows = with_context(read_labeled(ROOT / "data/labeled/train.jsonl"), "title+previous")[:args.rows]
    results = {}
    for base in args.base or ["bases/navec-bert"]:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model, opt = build(base, args.layers, args.freeze)
        token_types = getattr(model.config, "type_vocab_size", 0) >= 2
        data = batches(tokenizer, rows, settings, token_types)[:args.steps]
        tokens = sum(int(b["attention_mask"].numel()) for b in data)
        step_seconds(model, opt, data[:1], False)
        step_seconds(model, opt, data[:1], True)
        best = {"float32": float("inf"), "bf16 autocast": float("inf")}
        for _ in range(2):
            for name in best:
                best[name] = min(best[name], step_seconds(model, opt, data, name != "float32"))
        samples = sum(len(b["labels"]) for b in data) / len(data)
        results[base] = {name: {"s_per_step": round(s, 3), "samples_per_s": round(samples / s, 1)}
                         for name, s in best.items()}
        results[base]["speedup"] = round(best["float32"] / best["bf16 autocast"], 2)
        results[base]["padded_tokens_per_step"] = tokens // len(data)
        print(base, json.dumps(results[base]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
