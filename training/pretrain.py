"""Domain-adaptive masked-LM pretraining of a base model on an unlabeled article dump.

    python -m training.pretrain --base bases/navec-bert --corpus dump.jsonl [more dumps] \
        (--minutes 30 | --steps 2000) --output-dir bases/navec-bert-adapted

The dump is read in the scorer's input formats (JSONL / CSV / Parquet / .txt folders, .gz) and split into
paragraphs the same way, so the model adapts to exactly the text it will later score. The corpus is
streamed (`datasets.IterableDataset` with a shuffle buffer), never loaded whole. Checkpoints go to
OUTPUT_DIR/checkpoints; running the same command again resumes from the last one.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from datasets import IterableDataset
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForMaskedLM,
    AutoTokenizer,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.modeling_outputs import MaskedLMOutput
from transformers.trainer_utils import get_last_checkpoint

from inference.backends import check_model_folder
from inference.readers import iter_paragraphs

from .data import RESERVED_PREFIX, check_corpus

log = logging.getLogger("training.pretrain")


def article_paragraphs(paths: list[str]):
    """The paragraph texts of each article, as the scorer splits them; reserved-* files inside folders skipped."""
    for path in paths:
        for _, paragraphs in iter_paragraphs(path, skip_prefix=RESERVED_PREFIX):
            yield [p.text for p in paragraphs]


def packed_examples(paths: list[str], tokenizer, max_length: int):
    """Consecutive paragraphs of an article packed into sequences of up to `max_length` tokens.

    Packing wastes no compute on padding; keeping to one article keeps each sequence coherent.
    """
    room = max_length - 2  # [CLS] ... [SEP]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    for paragraphs in article_paragraphs(paths):
        ids: list[int] = []
        for piece in tokenizer(paragraphs, add_special_tokens=False)["input_ids"]:
            piece = piece[:room]
            if ids and len(ids) + len(piece) + 1 > room:
                yield {"input_ids": [cls, *ids, sep]}
                ids = []
            ids = ids + [sep] + piece if ids else piece
        if len(ids) >= 8:
            yield {"input_ids": [cls, *ids, sep]}


class MaskedOnlyBertForMaskedLM(BertForMaskedLM):
    """`BertForMaskedLM` that applies the vocabulary head to the masked positions only.

    Run over every position, the head (hidden x vocabulary) costs about twice the whole small encoder,
    yet only the ~15% masked positions carry loss. Same weights, same loss, same saved folder.
    """

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        masked = labels != -100
        logits = self.cls(hidden[masked])
        return MaskedLMOutput(loss=F.cross_entropy(logits, labels[masked]), logits=logits)


def load_mlm(path: str):
    if AutoConfig.from_pretrained(path).model_type == "bert":
        model = MaskedOnlyBertForMaskedLM.from_pretrained(path, use_safetensors=True)
        model.config.architectures = ["BertForMaskedLM"]  # what the saved folder is to anyone loading it
        return model
    return AutoModelForMaskedLM.from_pretrained(path, use_safetensors=True)


def checkpoint_step(checkpoint: str) -> int:
    return json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]


class TimeBudget(TrainerCallback):
    """Stop (and checkpoint) once the wall-clock budget for this invocation is spent.

    A time budget has no known number of steps, so its progress bar counts seconds of the budget, with the
    step and the latest loss beside it, instead of the Trainer's bar over a placeholder step count.
    """

    def __init__(self, minutes: float):
        self.started = time.time()
        self.deadline = self.started + minutes * 60
        self.bar = tqdm(total=round(minutes * 60), unit="s", desc="masked-LM pretraining, time budget")
        self.postfix: dict[str, str] = {}

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        self.bar.n = min(round(now - self.started), self.bar.total)
        self.postfix["step"] = str(state.global_step)
        self.bar.set_postfix(self.postfix)
        if now >= self.deadline:
            control.should_training_stop = True
            control.should_save = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.postfix["loss"] = f"{logs['loss']:.3f}"

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.pretrain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="base model folder (python -m training.bootstrap)")
    p.add_argument("--corpus", required=True, nargs="+", help="unlabeled dump file(s) or folder(s)")
    p.add_argument("--output-dir", required=True)
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="wall-clock budget of this run")
    budget.add_argument("--steps", type=int, help="optimizer steps in total")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--mlm-probability", type=float, default=0.15)
    p.add_argument("--shuffle-buffer", type=int, default=10_000)
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--overwrite", action="store_true", help="ignore existing checkpoints")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        corpus = check_corpus(args.corpus)
        if Path(args.base).is_dir():
            check_model_folder(Path(args.base))  # safetensors only, no custom code (SECURITY.md)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    set_seed(args.seed)
    started = time.time()
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    model = load_mlm(args.base)
    dataset = IterableDataset.from_generator(
        packed_examples, gen_kwargs={"paths": corpus, "tokenizer": tokenizer, "max_length": args.max_length}
    ).shuffle(seed=args.seed, buffer_size=args.shuffle_buffer)

    out = Path(args.output_dir)
    checkpoints = out / "checkpoints"
    training_args = TrainingArguments(
        output_dir=str(checkpoints),
        # A time budget has no known end, so it gets a constant rate; a step budget decays linearly.
        max_steps=args.steps or 10_000_000,
        lr_scheduler_type="linear" if args.steps else "constant_with_warmup",
        warmup_steps=0.06 if args.steps else 100,
        learning_rate=args.learning_rate,
        weight_decay=0.01,
        per_device_train_batch_size=args.batch_size,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        logging_steps=50,
        seed=args.seed,
        report_to="none",
        disable_tqdm=bool(args.minutes),  # TimeBudget draws its own bar
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    callbacks = [TimeBudget(args.minutes)] if args.minutes else []
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mlm_probability),
        callbacks=callbacks,
    )
    resume = None if args.overwrite or not checkpoints.is_dir() else get_last_checkpoint(str(checkpoints))
    done = resume is not None and args.steps is not None and checkpoint_step(resume) >= args.steps
    if done:
        # The Trainer would take one more step past max_steps on a streamed dataset; a finished run
        # only exports its last checkpoint.
        log.info("%s already reached %d steps; exporting it", resume, args.steps)
        trainer.model = AutoModelForMaskedLM.from_pretrained(resume, use_safetensors=True)
        trainer.state.global_step = checkpoint_step(resume)
        training_loss = None
    else:
        if resume:
            log.info("resuming from %s", resume)
        training_loss = trainer.train(resume_from_checkpoint=resume).training_loss
    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    card = {
        "built_by": "python -m training.pretrain",
        "base": args.base,
        "corpus": corpus,
        "steps": trainer.state.global_step,
        "sequences_seen": trainer.state.global_step * args.batch_size,
        "final_train_loss": training_loss,
        "seconds": round(time.time() - started, 1),
        "args": vars(args),
    }
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    card["loss_first_last_logged"] = [losses[0], losses[-1]] if losses else None
    (out / "pretrain_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"adapted base written to {out}: {card['steps']} steps, {card['sequences_seen']} sequences, "
          f"{card['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
