from inference.readers import LabeledParagraph
from training.data import with_context


def rows():
    return [LabeledParagraph("Лидеры созвонились", "phone_call", "a1", "title"),
            LabeledParagraph("Стороны обсудили газ.", "phone_call", "a1", "body"),
            LabeledParagraph("Договорились о встрече.", "phone_call", "a1", "body"),
            LabeledParagraph("Погода", "other", "a2", "title"),
            LabeledParagraph("Без статьи", "other", None, "body", line=9),
            LabeledParagraph("Свой контекст", "other", "a3", "body", context="Заданный контекст")]


def test_context_is_rebuilt_per_article_in_file_order():
    examples = with_context(rows(), "title+previous")
    assert [e.context for e in examples] == ["", "Лидеры созвонились", "Лидеры созвонились\nСтороны обсудили газ.",
                                             "", "", "Заданный контекст"]
    assert [e.paragraph for e in examples] == [0, 1, 2, 0, 0, 0]
    assert examples[4].article_id == "line-9"
    assert [e.context for e in with_context(rows(), "title")][:3] == ["", "Лидеры созвонились", "Лидеры созвонились"]
    assert {e.context for e in with_context(rows(), "none")} == {""}
