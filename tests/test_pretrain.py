import json

import pytest
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

from tests.conftest import write_jsonl
from training.pretrain import check_corpus, main

ARTICLES = [
    {"id": f"u{i}", "title": f"Заголовок новости номер {i}",
     "text": "Правительство обсудило поставки газа и цены на электроэнергию.\n"
             "Депутаты приняли закон о бюджете на следующий год.\n"
             f"Фермеры из района {i} вывели технику на трассу."}
    for i in range(40)
]


def test_a_few_steps_change_the_weights_and_write_a_loadable_base(tiny_base, tmp_path):
    dump = write_jsonl(tmp_path / "dump.jsonl", ARTICLES)
    out = tmp_path / "adapted"
    assert main(["--base", str(tiny_base), "--corpus", str(dump), "--steps", "3", "--batch-size", "8",
                 "--max-length", "32", "--save-steps", "2", "--output-dir", str(out)]) == 0
    before = load_file(tiny_base / "model.safetensors")
    after = load_file(out / "model.safetensors")
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not (before[key] == after[key]).all()
    AutoModelForMaskedLM.from_pretrained(out, use_safetensors=True)
    classifier = AutoModelForSequenceClassification.from_pretrained(out, num_labels=5, use_safetensors=True)
    assert (classifier.bert.encoder.layer[0].attention.self.query.weight.detach() == after[key]).all()
    card = json.loads((out / "pretrain_card.json").read_text())
    assert card["steps"] == 3
    # Same command again resumes from the last checkpoint: nothing left to do, the same step count.
    assert main(["--base", str(tiny_base), "--corpus", str(dump), "--steps", "3", "--batch-size", "8",
                 "--max-length", "32", "--save-steps", "2", "--output-dir", str(out)]) == 0
    assert json.loads((out / "pretrain_card.json").read_text())["steps"] == 3


def test_minutes_budget_stops_the_run_and_shows_time_not_steps(tiny_base, tmp_path, capsys):
    dump = write_jsonl(tmp_path / "dump.jsonl", ARTICLES)
    out = tmp_path / "adapted"
    assert main(["--base", str(tiny_base), "--corpus", str(dump), "--minutes", "0.001", "--batch-size", "4",
                 "--max-length", "32", "--output-dir", str(out)]) == 0
    assert json.loads((out / "pretrain_card.json").read_text())["steps"] == 1
    progress = capsys.readouterr().err
    assert "time budget" in progress and "step=1" in progress
    assert "10000000" not in progress  # the placeholder step count behind a time budget stays hidden


def test_reserved_files_are_refused(tmp_path):
    reserved = write_jsonl(tmp_path / "reserved-eval-articles.jsonl", ARTICLES[:1])
    with pytest.raises(ValueError, match="held out"):
        check_corpus([str(reserved)])
