"""Properties of the splitter on arbitrary text: it never fails, never invents or reorders text, and never
takes long (its tail-junk patterns once went quadratic on long runs of spaces)."""
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from inference.splitter import BODY, RELATED, TITLE, split_article

# Any code point, surrogates and control characters included, with the splitter's own material (dashes,
# counters, "Просмотров", newlines of three kinds) made frequent enough to meet.
PIECES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\n", "\r\n", "\r", "- ", "– ", "— ", " 1 245", " 2024", "Просмотров: 15", " 14:35",
                     "Читайте также:", "\u00a0", "\x00", "\u2028", "\x1c", "  ", ", - сказал он", "👁 7"]),
)
TEXT = st.lists(PIECES, max_size=30).map("".join)


def lines_of(text):
    """The article's non-blank lines, as the splitter's contract defines them."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return [line for line in lines if line]


@settings(max_examples=300, deadline=None)
@given(title=TEXT, text=TEXT)
def test_paragraphs_are_the_lines_in_order_and_nothing_else(title, text):
    paragraphs = split_article(title, text)
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    kinds = [p.kind for p in paragraphs]
    if title.strip():
        assert kinds[0] == TITLE and paragraphs[0].text == title.strip()
    assert TITLE not in kinds[1 if title.strip() else 0:]
    # Body paragraphs, then related headlines: never a body line after a related one.
    rest = [k for k in kinds if k != TITLE]
    assert rest == sorted(rest, key=lambda k: k == RELATED) and set(rest) <= {BODY, RELATED}
    lines = lines_of(text)
    body = [p for p in paragraphs if p.kind != TITLE]
    # One paragraph per line; only the last line may vanish (it was nothing but page furniture).
    assert len(body) in (len(lines), len(lines) - 1) or (not lines and not body)
    for paragraph, line in zip(body, lines):
        assert paragraph.text and paragraph.text == paragraph.text.strip()
        assert "\n" not in paragraph.text and "\r" not in paragraph.text
        assert paragraph.text in line  # cut (a bullet's dash, a trailing counter), never rewritten
    for paragraph, line in zip(body[:-1], lines):
        if paragraph.kind == BODY:
            assert paragraph.text == line  # only the last line loses junk


@settings(max_examples=30, deadline=None)
@given(filler=st.sampled_from([" ", "\u00a0", "1 ", "- ", "\t", ". "]), n=st.integers(5_000, 60_000),
       end=st.sampled_from(["x", "Просмотров: 5", " 1 245", "- новость", ""]))
def test_enormous_lines_split_in_linear_time(filler, n, end):
    for text in ("Начало " + filler * n + end, "Абзац.\n- Начало " + filler * n + end):
        started = time.perf_counter()
        paragraphs = split_article("Заголовок", text)
        assert time.perf_counter() - started < 1.0, (filler, n, end)
        assert paragraphs[0].kind == TITLE and all(p.text for p in paragraphs)


def test_ten_thousand_lines_keep_their_order():
    text = "\n".join(f"Строка {i}." for i in range(10_000))
    paragraphs = split_article("", text)
    assert [p.text for p in paragraphs] == [f"Строка {i}." for i in range(10_000)]
