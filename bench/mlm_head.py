"""Time one MLM training step with the stock `BertForMaskedLM` head (all positions) and with
`MaskedOnlyBertForMaskedLM` (masked positions only), on the same base and the same batches.

    python bench/mlm_head.py --base bases/navec-bert --steps 10
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import AutoTokenizer, BertForMaskedLM, DataCollatorForLanguageModeling  # noqa: E402

from training.pretrain import MaskedOnlyBertForMaskedLM  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--length", type=int, default=128)
    args = p.parse_args()
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    ids = torch.randint(1000, len(tokenizer), (args.steps, args.batch_size, args.length))
    batches = [collator([{"input_ids": row.tolist()} for row in step]) for step in ids]
    results = {}
    for name, cls in (("all positions", BertForMaskedLM), ("masked only", MaskedOnlyBertForMaskedLM)):
        model = cls.from_pretrained(args.base, use_safetensors=True)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()
        started = time.perf_counter()
        for batch in batches:
            loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["labels"]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        results[name] = (time.perf_counter() - started) / len(batches)
        print(f"{name:>14}: {results[name]:.2f} s/step ({args.batch_size} x {args.length} tokens)")
    print(f"speed-up: {results['all positions'] / results['masked only']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
