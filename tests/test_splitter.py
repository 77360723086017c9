from inference.splitter import BODY, RELATED, TITLE, split_article, strip_tail_junk


def kinds(paragraphs):
    return [(p.index, p.kind, p.text) for p in paragraphs]


def test_title_body_and_related_bullets_in_order():
    text = ("КИШИНЕВ, 3 фев – РИА Новости. Стороны обсудили поставки газа.\n\n"
            "Кроме того, министры договорились о новых контактах.\n"
            "- Фермеры снова перекрыли трассу у Унген\n"
            "- Санду и Макрон обсудили безопасность региона")
    assert kinds(split_article("Министры созвонились", text)) == [
        (0, TITLE, "Министры созвонились"),
        (1, BODY, "КИШИНЕВ, 3 фев – РИА Новости. Стороны обсудили поставки газа."),
        (2, BODY, "Кроме того, министры договорились о новых контактах."),
        (3, RELATED, "Фермеры снова перекрыли трассу у Унген"),
        (4, RELATED, "Санду и Макрон обсудили безопасность региона"),
    ]


def test_view_counter_glued_to_the_last_bullet_is_removed_but_a_year_is_kept():
    out = split_article("T", "Абзац.\n- Очереди грузовиков на границе 1 245")
    assert out[-1].kind == RELATED and out[-1].text == "Очереди грузовиков на границе"
    out = split_article("T", "Абзац.\n- Вино подорожало в 2024")
    assert out[-1].text == "Вино подорожало в 2024"


def test_view_counter_glued_to_a_body_line_is_removed():
    out = split_article("", "Единственный абзац новости. Просмотров: 1520")
    assert kinds(out) == [(0, BODY, "Единственный абзац новости.")]


def test_dialogue_dashes_are_body_not_related():
    text = "Мы позвонили депутату.\n- Вы согласны?\n- Оставьте меня в покое! - бросил он трубку."
    out = split_article("Заголовок", text)
    assert [p.kind for p in out] == [TITLE, BODY, BODY, BODY]


def test_a_body_that_is_only_dashes_stays_body():
    out = split_article("Список", "- первый пункт\n- второй пункт")
    assert [p.kind for p in out] == [TITLE, BODY, BODY]


def test_blank_lines_and_windows_newlines_make_no_empty_paragraphs():
    out = split_article("  Заголовок ", "\r\nПервый.\r\n\r\n   \r\nВторой.\r\n")
    assert kinds(out) == [(0, TITLE, "Заголовок"), (1, BODY, "Первый."), (2, BODY, "Второй.")]


def test_title_only_article_is_one_paragraph():
    assert kinds(split_article("Молния: Путин и Си созвонились", "")) == [(0, TITLE, "Молния: Путин и Си созвонились")]


def test_strip_tail_junk_handles_timestamps_and_read_also():
    assert strip_tail_junk("Новость дня 14:35 12.03.2024") == "Новость дня"
    assert strip_tail_junk("Текст абзаца. Читайте также:") == "Текст абзаца."
