import json

import pytest
import torch

from tests.conftest import write_jsonl
from training.train import WeightedTrainer, main
from training.weak import sample_background

ARTICLES = [
    {"id": f"d{i}", "title": f"Заголовок обычной новости номер {i} из района",
     "text": f"Суд района {i} рассмотрел дело о мошенничестве с земельными участками.\n"
             f"Фермеры из села {i} обсуждают цены на удобрения и погоду этой весны.\n"
             "Президент поддержал инициативу правительства по реформе школ в регионах."}
    for i in range(30)
]


def test_the_sample_is_uniform_size_with_contexts_and_keyword_paragraphs_left_out(tmp_path):
    dump = write_jsonl(tmp_path / "dump.jsonl", ARTICLES)
    examples, counts = sample_background([str(dump)], 20, "other", "title+previous", skip=r"поддерж", seed=1)
    assert counts == {"drawn": 20, "eligible": 90, "skipped_by_keywords": 30}
    assert all(e.label == "other" and "поддерж" not in e.text for e in examples)
    assert len({(e.article_id, e.paragraph) for e in examples}) == 20
    body = [e for e in examples if e.kind != "title"]
    assert body and all(e.context.startswith("Заголовок обычной новости") for e in body)
    again, _ = sample_background([str(dump)], 20, "other", "title+previous", skip=r"поддерж", seed=1)
    assert [(e.article_id, e.paragraph) for e in again] == [(e.article_id, e.paragraph) for e in examples]
    other_seed, _ = sample_background([str(dump)], 20, "other", "title+previous", skip=r"поддерж", seed=2)
    assert {(e.article_id, e.paragraph) for e in other_seed} != {(e.article_id, e.paragraph) for e in examples}


def test_keyword_paragraphs_can_stay_at_a_lower_weight_instead_of_left_out(tmp_path):
    dump = write_jsonl(tmp_path / "dump.jsonl", ARTICLES)
    examples, counts = sample_background([str(dump)], 1000, "other", "none", skip=r"поддерж", weight=0.3,
                                         keyword_weight=0.5)
    assert counts["eligible"] == 120 and counts["skipped_by_keywords"] == 0
    assert counts["keyword_eligible"] == counts["keyword_drawn"] == 30
    for e in examples:
        assert e.weight == pytest.approx(0.15 if "поддерж" in e.text else 0.3)


def test_reserved_files_never_reach_training(tmp_path):
    reserved = write_jsonl(tmp_path / "reserved-eval.jsonl", ARTICLES[:2])
    with pytest.raises(ValueError, match="held out"):
        sample_background([str(reserved)], 5, "other", "none")
    folder = tmp_path / "dumps"
    folder.mkdir()
    write_jsonl(folder / "reserved-eval.jsonl", ARTICLES[:5])
    write_jsonl(folder / "public.jsonl", ARTICLES[5:7])
    examples, _ = sample_background([str(folder)], 100, "other", "none")
    assert {e.article_id for e in examples} == {"dump:d5", "dump:d6"}


class _Logits(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, **_):
        return type("Out", (), {"logits": self.logits})()


def test_weighted_loss_weighs_each_example_and_equals_the_plain_loss_at_weight_one(tmp_path):
    from transformers import TrainingArguments

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    trainer = WeightedTrainer.__new__(WeightedTrainer)
    trainer.args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    per = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    w = torch.tensor([1.0, 0.25, 1.0])
    loss = trainer.compute_loss(_Logits(logits), {"labels": labels, "weight": w, "input_ids": None})
    assert torch.isclose(loss, (per * w).sum() / w.sum())
    ones = trainer.compute_loss(_Logits(logits), {"labels": labels, "weight": torch.ones(3), "input_ids": None})
    assert torch.isclose(ones, per.mean())


def test_training_with_a_dump_records_the_weak_background_and_weighted_priors(tiny_base, tmp_path):
    dump = write_jsonl(tmp_path / "dump.jsonl", ARTICLES)
    out = tmp_path / "weak"
    assert main(["--config", "configs/tiny.yaml", "--output-dir", str(out), "--set", f"model.name_or_path={tiny_base}",
                 "--set", f"data.unlabeled={dump}", "--set", "data.unlabeled_paragraphs=40",
                 "--set", "data.unlabeled_weight=0.5", "--set", "train.max_train_samples=48"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["weak_background"]["drawn"] == 40 and metrics["weak_background"]["weight"] == 0.5
    assert metrics["sizes"]["train"] == 48
    assert metrics["windows"]["train"] >= 48 + 40
    saved = json.loads((out / "model" / "ru_news_events.json").read_text())
    other = saved["train_priors"][-1]
    assert other > 0.4  # 20 weighted dump paragraphs beside 48 labeled ones, most of them events
