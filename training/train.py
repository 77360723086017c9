"""Fine-tune a BERT paragraph classifier: config -> splits -> Trainer -> model folder + metrics + plots.

    python -m training --config configs/default.yaml --output-dir runs/default [--set train.epochs=2]

    from training import train, load_config
    metrics = train(load_config("configs/default.yaml"), "runs/default")
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)

from inference import calibration as calibrate
from inference import errors
from inference.backends import check_model_folder, cpu_has_bf16
from inference.classifier import EventClassifier

from . import baseline, metrics, weak
from .config import Config, ConfigError, load_config
from .data import SPLITS, Example, load_splits, settings_from_config, to_dataset
from .report import write_report
from .resume import prepare_resume

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
    p.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    return p.parse_args(argv)


def load_model(config: Config):
    name = config.model.name_or_path
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    looks_local = name.startswith((".", "/", "~", "bases/", "runs/")) or "/" not in name
    if not Path(name).is_dir() and (offline or looks_local):
        raise ConfigError(
            f"model.name_or_path {name!r}: no such model folder"
            + (" (and HF_HUB_OFFLINE is set)" if offline else "")
            + f"; build the offline base first: python -m training.bootstrap --config CONFIG --output-dir {name}"
        )
    if Path(name).is_dir():
        check_model_folder(Path(name))  # safetensors only, no custom code: the checks scoring makes
    extra = {} if config.model.dropout is None else {
        "hidden_dropout_prob": config.model.dropout, "attention_probs_dropout_prob": config.model.dropout}
    if config.model.num_layers is not None:
        layers = AutoConfig.from_pretrained(name).num_hidden_layers
        if config.model.num_layers > layers:
            raise ConfigError(f"model.num_layers: {config.model.num_layers}, but {name} has {layers} layers")
        # from_pretrained builds N layers and loads the first N of the checkpoint; the rest are left unread.
        extra["num_hidden_layers"] = config.model.num_layers
    tokenizer = AutoTokenizer.from_pretrained(name)
    # The new classification head is drawn from the global RNG: without this, a run's initial weights depend on
    # whatever ran before in the process, and a rerun (or a resumed run's reference) is another model.
    set_seed(config.train.seed)
    # use_safetensors: never unpickle weights from a model folder or the hub.
    model = AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=len(config.labels), id2label=config.id2label, label2id=config.label2id,
        use_safetensors=True, **extra,
    )
    if config.model.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if config.model.freeze_layers:
        freeze_lower_layers(model, config.model.freeze_layers)
    return tokenizer, model


_LAYER = re.compile(r"(?:^|\.)(?:encoder|transformer)\.layer\.(\d+)\.")


def layer_of(name: str) -> int | None:
    """Depth of a parameter: -1 for the embeddings, i for encoder layer i, None above the encoder."""
    found = _LAYER.search(name)
    if found:
        return int(found.group(1))
    return -1 if ".embeddings." in f".{name}" else None


def freeze_lower_layers(model, n: int) -> None:
    layers = model.config.num_hidden_layers
    if n > layers:
        raise ConfigError(f"model.freeze_layers: {n}, but the model has {layers} layers")
    for name, param in model.named_parameters():
        depth = layer_of(name)
        if depth is not None and depth < n:
            param.requires_grad_(False)


class WeightedTrainer(Trainer):
    """A Trainer whose loss weighs each example by its `weight` column (weakly labeled dump paragraphs weigh
    less than labeled ones); without that column it is the stock loss. With `layerwise_lr_decay` its
    optimizer gives lower layers of a pretrained encoder smaller steps."""

    def __init__(self, *args, layerwise_lr_decay: float | None = None, **kwargs):
        self.layerwise_lr_decay = layerwise_lr_decay
        super().__init__(*args, **kwargs)

    def create_optimizer(self, model=None):
        decay = self.layerwise_lr_decay
        if self.optimizer is not None or not decay or decay == 1:
            return super().create_optimizer(model)
        model = self.model if model is None else model
        layers = model.config.num_hidden_layers
        decayed = set(self.get_decay_parameter_names(model))
        groups: dict[tuple[float, float], list] = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            depth = layer_of(name)
            scale = 1.0 if depth is None else decay ** (layers - depth)
            wd = self.args.weight_decay if name in decayed else 0.0
            groups.setdefault((scale, wd), []).append(param)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(
            [{"params": ps, "lr": self.args.learning_rate * scale, "weight_decay": wd}
             for (scale, wd), ps in groups.items()], **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        weight = inputs.pop("weight", None)
        if weight is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        losses = torch.nn.functional.cross_entropy(
            outputs.logits, labels, reduction="none", label_smoothing=self.args.label_smoothing_factor)
        weight = weight.to(losses.dtype)
        loss = (losses * weight).sum() / weight.sum().clamp_min(1e-8)
        return (loss, outputs) if return_outputs else loss


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
        # Keeps the `weight` column (not a model argument) for WeightedTrainer; the datasets hold only inputs.
        remove_unused_columns=False,
        bf16=t.bf16,
    )
    if t.bf16 and not torch.cuda.is_available():
        kwargs["use_cpu"] = True  # transformers takes bf16 without use_cpu to mean a GPU, and refuses
        if not cpu_has_bf16():
            log.warning("train.bf16: this CPU has no bfloat16 instructions, so autocast runs emulated and slower "
                        "than float32; set train.bf16=false here")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # torchrun on CPUs: without an explicit backend transformers runs every rank as a separate single run.
        kwargs["ddp_backend"] = "gloo"
    # Batches of similar length waste less compute on padding, which is most of the cost on a CPU.
    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        kwargs["train_sampling_strategy"] = "group_by_length"
    else:  # transformers < 5
        kwargs["group_by_length"] = True
    return TrainingArguments(**kwargs)


def predict_split(classifier: EventClassifier, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and window counts of a split through the scorer's own classifier (one prediction path)."""
    return classifier.infer([e.text for e in examples], [e.context for e in examples])


def train(config: Config, output_dir: str | Path, overwrite: bool = False) -> dict:
    """Fine-tune `config.model.name_or_path` on the config's splits into OUTPUT_DIR/model (a folder that
    `transformers.pipeline` and `EventClassifier.from_pretrained` load), and write metrics, predictions and
    plots beside it. Returns the metrics. Resumes from OUTPUT_DIR/checkpoints unless `overwrite`."""
    splits = load_splits(config)
    settings = settings_from_config(config)
    # `splits` stays the labeled data (baseline, sizes); the model trains on it plus any weak background.
    train_examples, background = splits["train"], {}
    if config.data.unlabeled:
        extra, background = weak.sample_background(
            config.data.unlabeled, config.data.unlabeled_paragraphs, config.background, config.train.context,
            config.data.unlabeled_skip, seed=config.train.seed, weight=config.data.unlabeled_weight,
            keyword_weight=config.data.unlabeled_keyword_weight)
        train_examples = train_examples + extra
        background["weight"] = config.data.unlabeled_weight
        log.info("weak background: %s", background)
    tokenizer, model = load_model(config)
    started = time.time()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(config.train.seed)
    if config.train.torch_threads:
        torch.set_num_threads(config.train.torch_threads)
    settings.max_length = min(settings.max_length, model.config.max_position_embeddings)
    token_types = getattr(model.config, "type_vocab_size", 0) >= 2
    log.info("train %d, dev %d, test %d paragraphs; labels %s; context %s",
             len(train_examples), len(splits["dev"]), len(splits["test"]), config.labels, settings.context)

    encoded = {name: to_dataset(examples, tokenizer, settings, config, token_types)
               for name, examples in (("train", train_examples), ("dev", splits["dev"]))}
    checkpoints = out / "checkpoints"
    trainer = WeightedTrainer(
        model=model,
        args=training_arguments(config, checkpoints),
        train_dataset=encoded["train"],
        eval_dataset=encoded["dev"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=metrics.trainer_metrics,
        layerwise_lr_decay=config.model.layerwise_lr_decay,
    )
    resume = prepare_resume(config, checkpoints, overwrite)
    if resume:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.time() - started
    if not trainer.is_world_process_zero():
        # Under torchrun/accelerate the other ranks are done: rank 0 alone writes the model and the reports.
        return {}

    # Everything is written under temporary names and moved into place at the end, metrics.json last: a run
    # killed here leaves the previous outputs or none, never a half-written folder under its final name.
    final_model_dir = out / "model"
    model_dir = out / "model.partial"
    shutil.rmtree(model_dir, ignore_errors=True)
    # The best checkpoint (load_best_model_at_end). Not trainer.save_model: it adds a pickled
    # training_args.bin, and a model folder must hold nothing that needs unpickling.
    trainer.model.save_pretrained(str(model_dir))
    # pipeline(..., truncation=True) cuts at model_max_length: make it the window training used.
    tokenizer.model_max_length = settings.max_length
    tokenizer.save_pretrained(str(model_dir))
    settings.save(model_dir)

    # Dev and test go through the scorer's classifier with its default batching, so reported metrics and
    # probabilities are exactly what `python -m inference` gives.
    gold = {name: np.asarray([config.label2id[e.label] for e in splits[name]]) for name in ("dev", "test")}
    # What the model was fitted to: weakly labeled paragraphs count at their loss weight.
    counts = np.bincount([config.label2id[e.label] for e in train_examples],
                         weights=[e.weight for e in train_examples], minlength=len(config.labels))
    settings.train_priors = [round(float(x), 6) for x in counts / counts.sum()]
    calibration = {}
    if config.train.calibrate:
        uncalibrated = EventClassifier.from_pretrained(model_dir)
        dev_raw, _ = predict_split(uncalibrated, splits["dev"])
        test_raw, _ = predict_split(uncalibrated, splits["test"])
        settings.temperature = round(calibrate.fit_temperature(dev_raw, gold["dev"]), 4)
        calibration = {"temperature": settings.temperature,
                       "test_ece_before": round(calibrate.expected_calibration_error(test_raw, gold["test"]), 4),
                       "test_ece_after": round(calibrate.expected_calibration_error(
                           calibrate.apply_temperature(test_raw, settings.temperature), gold["test"]), 4)}
        log.info("temperature %.3f: test ECE %.4f -> %.4f", settings.temperature, calibration["test_ece_before"],
                 calibration["test_ece_after"])
    settings.save(model_dir)
    classifier = EventClassifier.from_pretrained(model_dir)
    dev_probs, _ = predict_split(classifier, splits["dev"])
    test_probs, test_windows = predict_split(classifier, splits["test"])
    if config.train.target_precision is not None and config.background is not None:
        # Thresholds act on the probabilities only in decide(), so the dev pass above serves to choose them.
        share = config.train.threshold_background_share
        weights = (None if share is None else
                   calibrate.background_weights(gold["dev"], config.labels, config.background, share))
        chosen = calibrate.choose_thresholds(dev_probs, gold["dev"], config.labels, config.background,
                                             config.train.target_precision, weights)
        settings.thresholds = {label: c["threshold"] for label, c in chosen.items()}
        calibration["thresholds"] = chosen
        settings.save(model_dir)
        classifier.settings.thresholds = settings.thresholds
    dev_report = metrics.report(gold["dev"], classifier.decide(dev_probs), config.labels)
    test_report = metrics.report(gold["test"], classifier.decide(test_probs), config.labels)
    top_label = {name: metrics.report(gold[name], p.argmax(axis=1), config.labels)
                 for name, p in (("dev", dev_probs), ("test", test_probs))}

    # The baseline sees the labeled paragraphs only, so it stays comparable across runs.
    texts = {name: [e.text for e in splits[name]] for name in SPLITS}
    train_labels = [config.label2id[e.label] for e in splits["train"]]
    base_preds = baseline.fit_predict(texts["train"], train_labels, {"dev": texts["dev"], "test": texts["test"]},
                                      seed=config.train.seed)

    result = {
        "model": config.model.name_or_path,
        "labels": config.labels,
        "sizes": {name: len(splits[name]) for name in SPLITS},
        "weak_background": background,
        "windows": {"train": len(encoded["train"]), "test": int(test_windows.sum())},
        "settings": dataclasses.asdict(settings),
        "train_seconds": round(train_seconds, 1),
        "dev": dev_report,
        "test": test_report,
        # Before thresholds: the top label of every paragraph (equal to dev/test when no thresholds are set).
        "dev_top_label": top_label["dev"],
        "test_top_label": top_label["test"],
        "calibration": calibration,
        "baseline_tfidf_logreg": {
            "dev": metrics.report(gold["dev"], base_preds["dev"], config.labels),
            "test": metrics.report(gold["test"], base_preds["test"], config.labels),
        },
        "config": config.to_dict(),
    }
    partial_predictions = out / "test_predictions.jsonl.partial"
    with open(partial_predictions, "w", encoding="utf-8") as handle:
        for example, probs, windows in zip(splits["test"], test_probs, test_windows):
            row = classifier.row(example.article_id, example.paragraph, example.kind, example.text, probs,
                                 int(windows)).to_dict()
            row["gold"] = example.label
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    metrics.plot_confusion(test_report, out / "confusion_matrix.png",
                           f"test, macro-F1 {test_report['macro_f1']:.3f}")
    metrics.plot_history(trainer.state.log_history, out / "training_curve.png")
    write_report(out / "report.md", f"{out.name}: {config.model.name_or_path}",
                 {"test": test_report, "dev": dev_report, "calibration": calibration},
                 {"test confusion matrix": out / "confusion_matrix.png", "training curve": out / "training_curve.png"},
                 result["baseline_tfidf_logreg"])
    os.replace(partial_predictions, out / "test_predictions.jsonl")
    if final_model_dir.exists():
        shutil.rmtree(final_model_dir)
    os.replace(model_dir, final_model_dir)
    partial_metrics = out / "metrics.json.partial"
    partial_metrics.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(partial_metrics, out / "metrics.json")
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, args.overrides)
        result = train(config, args.output_dir, overwrite=args.overwrite)
    except BaseException as exc:  # report() re-raises what is not an expected failure, and SystemExit
        return errors.report(exc, args.debug, where=args.output_dir,
                             resume_hint="run the same command again to resume from the last checkpoint")
    if not result:  # a rank other than 0 of a distributed run
        return 0
    out = Path(args.output_dir)
    base_f1 = result["baseline_tfidf_logreg"]["test"]["macro_f1"]
    print(f"test macro-F1 {result['test']['macro_f1']:.3f} (TF-IDF baseline {base_f1:.3f}); "
          f"trained in {result['train_seconds']:.0f}s")
    print(f"model folder: {out / 'model'}\nmetrics: {out / 'metrics.json'}\nplots: {out / 'confusion_matrix.png'}, "
          f"{out / 'training_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
