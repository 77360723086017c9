"""Fine-tune a BERT paragraph classifier: config -> splits -> Trainer -> model folder + metrics + plots.

    python -m training --config configs/default.yaml --output-dir runs/default [--set train.epochs=2]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from . import baseline, metrics
from .config import Config, ConfigError, load_config
from .data import DataError, load_splits, split_texts, tokenize_splits

log = logging.getLogger("training")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/default.yaml")
    p.add_argument("--output-dir", required=True, help="run folder: model/, metrics.json, plots, checkpoints/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=2 (repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh instead of resuming from the last checkpoint in OUTPUT_DIR/checkpoints")
    return p.parse_args(argv)


def load_model(config: Config):
    name = config.model.name_or_path
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    looks_local = name.startswith((".", "/", "~", "bases/", "runs/")) or "/" not in name
    if not Path(name).is_dir() and (offline or looks_local):
        raise ConfigError(
            f"model.name_or_path {name!r}: no such model folder"
            + (" (and HF_HUB_OFFLINE is set)" if offline else "")
            + "; build the offline base first: python -m training.bootstrap --config configs/default.yaml "
            "--output-dir bases/navec-bert"
        )
    extra = {} if config.model.dropout is None else {
        "hidden_dropout_prob": config.model.dropout, "attention_probs_dropout_prob": config.model.dropout}
    tokenizer = AutoTokenizer.from_pretrained(name)
    # use_safetensors: never unpickle weights from a model folder or the hub.
    model = AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=len(config.labels), id2label=config.id2label, label2id=config.label2id,
        use_safetensors=True, **extra,
    )
    if config.model.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return tokenizer, model


def training_arguments(config: Config, checkpoints: Path) -> TrainingArguments:
    t = config.train
    kwargs = dict(
        output_dir=str(checkpoints),
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        label_smoothing_factor=t.label_smoothing,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        disable_tqdm=False,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    # Batches of similar length waste less compute on padding, which is most of the cost on a CPU.
    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        kwargs["train_sampling_strategy"] = "group_by_length"
    else:  # transformers < 5
        kwargs["group_by_length"] = True
    return TrainingArguments(**kwargs)


def evaluate(trainer: Trainer, dataset, labels: list[str]) -> tuple[dict, np.ndarray]:
    """The split's metrics and its class probabilities, one row per example in dataset order."""
    output = trainer.predict(dataset)
    probs = torch.softmax(torch.from_numpy(output.predictions).float(), dim=-1).numpy()
    return metrics.report(output.label_ids, probs.argmax(axis=-1), labels), probs


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, args.overrides)
        splits = load_splits(config)
        tokenizer, model = load_model(config)
    except (ConfigError, DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    started = time.time()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(config.train.seed)
    if config.train.torch_threads:
        torch.set_num_threads(config.train.torch_threads)
    log.info("train %d, dev %d, test %d paragraphs; labels %s",
             len(splits["train"]), len(splits["dev"]), len(splits["test"]), config.labels)

    encoded = tokenize_splits(splits, tokenizer, config)
    checkpoints = out / "checkpoints"
    trainer = Trainer(
        model=model,
        args=training_arguments(config, checkpoints),
        train_dataset=encoded["train"],
        eval_dataset=encoded["dev"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=metrics.trainer_metrics,
    )
    resume = None if args.overwrite or not checkpoints.is_dir() else get_last_checkpoint(str(checkpoints))
    if resume:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.time() - started

    model_dir = out / "model"
    # The best checkpoint (load_best_model_at_end). Not trainer.save_model: it adds a pickled
    # training_args.bin, and a model folder must hold nothing that needs unpickling.
    trainer.model.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))

    # Length grouping also shuffles evaluation batches; from here on predictions must come back in file order
    # to line up with the texts in test_predictions.jsonl.
    trainer.args.train_sampling_strategy = "random"
    if hasattr(trainer.args, "group_by_length"):  # transformers < 5
        trainer.args.group_by_length = False
    dev_report, _ = evaluate(trainer, encoded["dev"], config.labels)
    test_report, test_probs = evaluate(trainer, encoded["test"], config.labels)

    train_texts, train_labels = split_texts(splits["train"], config)
    dev_texts, dev_labels = split_texts(splits["dev"], config)
    test_texts, test_labels = split_texts(splits["test"], config)
    base_preds = baseline.fit_predict(train_texts, train_labels, {"dev": dev_texts, "test": test_texts},
                                      seed=config.train.seed)

    result = {
        "model": config.model.name_or_path,
        "labels": config.labels,
        "sizes": {name: len(splits[name]) for name in ("train", "dev", "test")},
        "train_seconds": round(train_seconds, 1),
        "dev": dev_report,
        "test": test_report,
        "baseline_tfidf_logreg": {
            "dev": metrics.report(dev_labels, base_preds["dev"], config.labels),
            "test": metrics.report(test_labels, base_preds["test"], config.labels),
        },
        "config": config.to_dict(),
    }
    (out / "metrics.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    with open(out / "test_predictions.jsonl", "w", encoding="utf-8") as handle:
        for text, gold, probs in zip(test_texts, test_labels, test_probs):
            handle.write(json.dumps({"text": text, "label": config.labels[gold],
                                     "predicted": config.labels[int(probs.argmax())],
                                     "score": round(float(probs.max()), 6)}, ensure_ascii=False) + "\n")
    metrics.plot_confusion(test_report, out / "confusion_matrix.png",
                           f"test, macro-F1 {test_report['macro_f1']:.3f}")
    metrics.plot_history(trainer.state.log_history, out / "training_curve.png")

    base_f1 = result["baseline_tfidf_logreg"]["test"]["macro_f1"]
    print(f"test macro-F1 {test_report['macro_f1']:.3f} (TF-IDF baseline {base_f1:.3f}); "
          f"trained in {train_seconds:.0f}s")
    print(f"model folder: {model_dir}\nmetrics: {out / 'metrics.json'}\nplots: {out / 'confusion_matrix.png'}, "
          f"{out / 'training_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
