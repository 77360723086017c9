"""Training step time in float32 against bfloat16 autocast, side by side in one run, on real train rows.

    python bench/bf16_training.py [--base bases/navec-bert --base bases/e5-small ...] [--steps 6] [--rows 256]

On CPUs with AMX (or AVX512-BF16) oneDNN multiplies bfloat16 several times faster than float32; this measures
what that gives a whole optimizer step (forward, backward, AdamW) of the project's models, with the batches the
Trainer would build: the first `--rows` paragraphs of data/labeled/train.jsonl with the config's context,
batch 32, sorted by length as the Trainer's length grouping does. Each variant is timed twice, interleaved,
best of the two kept, after one warm-up step. The model, context and window are those of configs/default.yaml
on the given base (`training.train.load_model`); `--layers N` sets `model.num_layers`, `--freeze N`
`model.freeze_layers`.
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
from inference.classifier import encode_windows  # noqa: E402
from training.config import load_config  # noqa: E402
from training.data import load_splits, settings_from_config  # noqa: E402
from training.train import load_model  # noqa: E402


def batches(tokenizer, rows, settings, token_types: bool, size: int = 32):
    """Length-sorted batches of the rows' windows, padded as the Trainer's collator pads them."""
    import torch

    enc = encode_windows(tokenizer, [r.text for r in rows], [r.context for r in rows], settings, token_types)
    order = sorted(range(len(enc["input_ids"])), key=lambda i: len(enc["input_ids"][i]))
    out = []
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        batch = tokenizer.pad({"input_ids": [enc["input_ids"][i] for i in idx]}, return_tensors="pt")
        out.append({"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                    "labels": torch.randint(0, 5, (len(idx),))})
    return out


def build(base: str, layers: int | None, freeze: int):
    """Tokenizer, model and optimizer as `python -m training` builds them from the default config on `base`."""
    import torch

    overrides = [f"model.name_or_path={base}", f"model.freeze_layers={freeze}"]
    if layers:
        overrides.append(f"model.num_layers={layers}")
    config = load_config(ROOT / "configs/default.yaml", overrides)
    tokenizer, model = load_model(config)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    return config, tokenizer, model.train(), opt


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
    results = {}
    for base in args.base or ["bases/navec-bert"]:
        config, tokenizer, model, opt = build(base, args.layers, args.freeze)
        rows = load_splits(config)["train"][:args.rows]
        token_types = getattr(model.config, "type_vocab_size", 0) >= 2
        data = batches(tokenizer, rows, settings_from_config(config), token_types)[:args.steps]
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
