"""Scoring speed, agreement and memory: `transformers.pipeline` against this project's classifier on its three
backends, side by side in one run, on the same real paragraphs.

    python bench/scoring.py --model runs/default/model [--paragraphs 5000] [--rss-articles 2000]

1. Speed: the first N paragraphs of ../shared/corpora/moldova_ru_news.jsonl as the splitter cuts them, scored
   by pipeline(batch_size=32) in float32 and bfloat16, EventClassifier torch in float32 and bfloat16, ONNX fp32
   and ONNX int8 (cache off, so every paragraph is computed), each twice, interleaved, best time kept; for the
   given model and for a rubert-tiny2-shaped model (3 layers, hidden 312, 12 heads, FFN 600, an 83,828-token
   WordPiece vocabulary trained here on navec words; random weights: speed depends on shapes, not values).
   Label agreement of each engine with the float32 torch backend.
2. Cache: the share of model calls that repeated paragraphs save on both shared dumps.
3. Memory: peak RSS of `score_dump` (ONNX int8) on the first 2,000 articles against all articles of both
   shared dumps, each in a fresh process. reserved-* files are never read.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.classifier import (  # noqa: E402
    ClassifierSettings,
    EventClassifier,
    cache_key,
    encode_windows,
    normalize_text,
)
from inference.readers import iter_paragraphs  # noqa: E402
from inference.splitter import paragraph_contexts  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
DUMPS = [CORPORA / "moldova_ru_news.jsonl", CORPORA / "ria_news_sample.jsonl"]
LABELS = ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]


def first_paragraphs(dump: Path, n: int) -> list[str]:
    out = []
    for _, paragraphs in iter_paragraphs(dump):
        out.extend(p.text for p in paragraphs)
        if len(out) >= n:
            break
    return out[:n]


def rubert_tiny2_shape(folder: Path) -> Path:
    """A random classifier with rubert-tiny2's shapes and vocabulary size, built offline."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from training.navec_vectors import load_word_vectors
    from training.tokenizer import number_texts, save_and_reload, train_tokenizer, weighted_words

    vectors = load_word_vectors()
    texts = list(weighted_words(vectors.words[:300_000], vectors.counts[:300_000], per_repeat=2000)) + list(
        number_texts())
    tokenizer = save_and_reload(train_tokenizer(texts, 83_828, 2048), folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=312, num_hidden_layers=3, num_attention_heads=12,
                        intermediate_size=600, max_position_embeddings=2048, num_labels=len(LABELS),
                        id2label=dict(enumerate(LABELS)), label2id={x: i for i, x in enumerate(LABELS)},
                        pad_token_id=tokenizer.pad_token_id)
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    ClassifierSettings(max_length=128).save(folder)
    return folder


def padded_tokens(clf: EventClassifier, texts: list[str], batch: int = 32) -> dict:
    """Tokens each engine feeds the model, padding included: `pipeline` pads each batch of 32 paragraphs in input
    order to its longest (cut at the window); the classifier sorts its windows by length first. On a CPU both run
    at about the same cost per token, so the ratio of these counts bounds the speed-up that batching can give."""
    window = clf.settings.max_length
    lengths = [min(len(ids), window) for ids in clf.tokenizer(texts)["input_ids"]]
    pipe = sum(max(lengths[i:i + batch]) * len(lengths[i:i + batch]) for i in range(0, len(lengths), batch))
    ours = sorted(len(ids) for ids in encode_windows(clf.tokenizer, texts, None, clf.settings,
                                                         clf.token_types)["input_ids"])
    step = clf.batch_size
    sorted_padded = sum(max(ours[i:i + step]) * len(ours[i:i + step]) for i in range(0, len(ours), step))
    return {"pipeline_padded": pipe, "pipeline_real": sum(lengths), "classifier_padded": sorted_padded,
            "classifier_real": sum(ours), "bound_vs_pipeline": round(pipe / sorted_padded, 2)}


def dense_ops_per_token(model_dir: Path) -> int:
    """Multiply-adds x 2 of a BERT encoder's dense layers per token (Q, K, V, output, two FFN matmuls); the
    attention-score products add a few percent at these lengths and are left out."""
    c = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    h, f = c["hidden_size"], c["intermediate_size"]
    return 2 * (4 * h * h + 2 * h * f) * c["num_hidden_layers"]


def one_window(clf: EventClassifier, texts: list[str]) -> list[str]:
    """The paragraphs that fit one window of this model: `pipeline` (which cuts at the window) and the classifier
    (which scores every window) then do the same work on them."""
    lengths = [len(ids) for ids in clf.tokenizer(texts)["input_ids"]]
    return [t for t, n in zip(texts, lengths) if n <= clf.settings.max_length]


def speed(model_dir: Path, texts: list[str], repeats: int, fit_window: bool = False) -> dict:
    import torch
    from transformers import pipeline

    engines = {
        "pipeline(batch_size=32)": pipeline("text-classification", model=str(model_dir), device="cpu"),
        # The same pipeline with bfloat16 weights: what a user gets from transformers alone on an AMX CPU.
        "pipeline(batch_size=32), bf16": pipeline("text-classification", model=str(model_dir), device="cpu",
                                                  dtype=torch.bfloat16),
        "EventClassifier torch": EventClassifier.from_pretrained(model_dir, cache_size=0),
        "EventClassifier torch bf16": EventClassifier.from_pretrained(model_dir, bf16=True, cache_size=0),
        "EventClassifier onnx fp32": EventClassifier.from_pretrained(model_dir, backend="onnx", cache_size=0),
        "EventClassifier onnx int8": EventClassifier.from_pretrained(model_dir, backend="onnx", int8=True,
                                                                     cache_size=0),
    }
    if fit_window:
        texts = one_window(engines["EventClassifier torch"], texts)
        print(f"  {len(texts)} paragraphs that fit one window", flush=True)
    best = {name: float("inf") for name in engines}
    labels: dict[str, list[str]] = {}
    for _ in range(repeats):
        for name, clf in engines.items():
            started = time.perf_counter()
            if not isinstance(clf, EventClassifier):
                labels[name] = [p["label"] for p in clf(texts, batch_size=32, truncation=True)]
            else:
                labels[name] = clf.predict(texts)
            best[name] = min(best[name], time.perf_counter() - started)
            print(f"  {name}: {len(texts) / best[name]:.1f} paragraphs/s", flush=True)
    base = best["pipeline(batch_size=32)"]
    torch_labels = np.asarray(labels["EventClassifier torch"])
    tokens = padded_tokens(engines["EventClassifier torch"], texts)
    print(f"  tokens: {json.dumps(tokens)}", flush=True)
    # Achieved dense-matmul rate on the tokens each engine feeds its model, padding included: it separates what an
    # engine gains by feeding fewer tokens (sorting, no padding) from what it gains per token (bf16, int8).
    per_token = dense_ops_per_token(Path(model_dir))
    fed = {name: tokens["pipeline_padded" if name.startswith("pipeline") else "classifier_padded"] for name in best}
    return {"paragraphs": len(texts), "tokens": tokens} | {
        name: {"paragraphs_per_s": round(len(texts) / t, 1), "vs_pipeline": round(base / t, 2),
               "dense_gops": round(fed[name] * per_token / t / 1e9, 1),
               "label_agreement_with_torch": round(float((np.asarray(labels[name]) == torch_labels).mean()), 4)}
        for name, t in best.items()}


def cache_savings(context: str) -> dict:
    out = {}
    for dump in DUMPS:
        total, keys = 0, set()
        for _, paragraphs in iter_paragraphs(dump):
            for p, c in zip(paragraphs, paragraph_contexts(paragraphs, context)):
                keys.add(cache_key(normalize_text(p.text), normalize_text(c)))
                total += 1
        out[dump.name] = {"paragraphs": total, "distinct": len(keys), "saved_share": round(1 - len(keys) / total, 4)}
    return out


RSS_CHILD = """
import json, resource, sys
from inference import score_dump
summary = score_dump(sys.argv[1], sys.argv[2], sys.argv[3], fmt="jsonl", backend="onnx", int8=True,
                     progress=False, print_errors=False)
summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(summary))
"""


def peak_rss(model_dir: Path, articles: int, tmp: Path) -> dict:
    small = tmp / "first.jsonl"
    with open(DUMPS[0], encoding="utf-8") as src, open(small, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= articles:
                break
            dst.write(line)
    both = tmp / "both"
    both.mkdir()
    for dump in DUMPS:  # links to the two public dumps only: the corpora folder also holds reserved-* files
        (both / dump.name).symlink_to(dump)
    out = {}
    for name, dump in (("first_articles", small), ("all_articles", both)):
        done = subprocess.run([sys.executable, "-c", RSS_CHILD, str(model_dir), str(dump), str(tmp / f"{name}.jsonl")],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {name}: {out[name]['records']} articles, {out[name]['paragraphs']} paragraphs, "
              f"peak RSS {out[name]['peak_rss_mb']} MB, {out[name]['seconds']} s", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="runs/default/model")
    p.add_argument("--paragraphs", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--rss-articles", type=int, default=2000)
    p.add_argument("--skip-rss", action="store_true")
    p.add_argument("--fit-window", action="store_true",
                   help="time only the paragraphs that fit one window, so pipeline (which truncates) and the "
                        "classifier (which scores every window) do the same work")
    p.add_argument("--only-rss", action="store_true", help="just the memory part")
    p.add_argument("--output", help="write the results as JSON here too")
    args = p.parse_args(argv)
    texts = first_paragraphs(DUMPS[0], args.paragraphs)
    print(f"{len(texts)} paragraphs of {DUMPS[0].name}", flush=True)
    results = {"paragraphs": len(texts)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only_rss:
            results["rss"] = peak_rss(Path(args.model).resolve(), args.rss_articles, tmp)
            print(json.dumps(results["rss"], indent=2))
            return 0
        shape = rubert_tiny2_shape(tmp / "rubert-tiny2-shape")
        print(f"rubert-tiny2 shape: vocabulary {json.loads((shape / 'config.json').read_text())['vocab_size']}")
        for name, folder in (("rubert-tiny2 shape (random weights)", shape), (args.model, Path(args.model))):
            print(name, flush=True)
            results[name] = speed(folder, texts, args.repeats, args.fit_window)
        settings = ClassifierSettings.load(args.model)
        results["cache"] = cache_savings(settings.context)
        print("cache:", json.dumps(results["cache"]), flush=True)
        if not args.skip_rss:
            results["rss"] = peak_rss(Path(args.model).resolve(), args.rss_articles, tmp)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
