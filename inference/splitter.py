"""Split an article into its title, body paragraphs and trailing related-headline bullets."""
from __future__ import annotations

import re
from dataclasses import dataclass

TITLE, BODY, RELATED = "title", "body", "related"

# A related-headline bullet: "- " (or an en/em dash) then a headline, at the very end of the article.
_BULLET = re.compile(r"^\s*[-–—]\s+(?P<text>\S.*)$")
# Dialogue ("- Вы уверены? - спросил он") also starts with a dash; an attribution after a dash marks it.
_DIALOGUE = re.compile(r"[,.!?…]\s*[-–—]\s+\w")
_MAX_BULLET_CHARS = 220
# Junk that scrapers glue onto the last line: view counters, "Читайте также", share buttons, timestamps.
_TAIL_JUNK = re.compile(
    r"(?:\s*(?:Просмотр(?:ов|ы)?:?|👁|Views:?)\s*\d[\d\s\u00a0]*"
    r"|\s*(?:Читайте также|Поделиться|Комментарии\s*\(\d+\))\s*:?"
    r"|\s+\d{1,2}:\d{2}(?:\s+\d{1,2}\.\d{1,2}\.\d{2,4})?)\s*$",
    re.IGNORECASE,
)
# On a bullet, a bare trailing number is a view counter ("... на границе 1 245"); a year (1900-2099) is not.
_BULLET_COUNTER = re.compile(r"(?<=\D)\s+(?!(?:19|20)\d\d$)(?:\d{1,3}(?:[\s\u00a0]\d{3})+|\d{1,3}|\d{5,})\s*$")


@dataclass
class Paragraph:
    index: int
    kind: str
    text: str


# Junk sits in the last few dozen characters, and the patterns are only tried there: on a whole line, a long run
# of spaces before a word makes every `\s*` start rescan the run (20,000 spaces took 15 s, quadratic).
_TAIL_CHARS = 256


def _sub_tail(pattern: re.Pattern, line: str) -> str:
    if len(line) <= _TAIL_CHARS:
        return pattern.sub("", line)
    return line[:-_TAIL_CHARS] + pattern.sub("", line[-_TAIL_CHARS:])


def strip_tail_junk(line: str, bullet: bool = False) -> str:
    previous = None
    while previous != line:
        previous = line
        line = _sub_tail(_TAIL_JUNK, line)
        if bullet:
            line = _sub_tail(_BULLET_COUNTER, line)
    return line.strip()


def _related_start(lines: list[str]) -> int:
    """Index where the trailing run of related-headline bullets begins (len(lines) if there is none)."""
    start = len(lines)
    while start > 0:
        candidate = _BULLET.match(lines[start - 1])
        if not candidate or len(lines[start - 1]) > _MAX_BULLET_CHARS or _DIALOGUE.search(candidate["text"]):
            break
        start -= 1
    # A body that is nothing but dashes is a list, not related headlines.
    return start if start > 0 else len(lines)


def split_article(title: str, text: str) -> list[Paragraph]:
    lines = [line.strip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if lines:
        bullet_tail = bool(_BULLET.match(lines[-1]))
        lines[-1] = strip_tail_junk(lines[-1], bullet=bullet_tail)
        if not lines[-1] or (bullet_tail and not _BULLET.match(lines[-1])):
            lines.pop()
    related_from = _related_start(lines)

    paragraphs: list[Paragraph] = []
    title = (title or "").strip()
    if title:
        paragraphs.append(Paragraph(0, TITLE, title))
    for i, line in enumerate(lines):
        if i >= related_from:
            paragraphs.append(Paragraph(len(paragraphs), RELATED, _BULLET.match(line)["text"].strip()))
        else:
            paragraphs.append(Paragraph(len(paragraphs), BODY, line))
    return paragraphs


# What the classifier sees beside a paragraph, as the second segment of a text pair: call reports go on over
# paragraphs that never mention a phone, and only the title or the paragraph before tells a call from a meeting.
CONTEXT_MODES = ("none", "title", "title+previous")


def paragraph_contexts(paragraphs, mode: str) -> list[str]:
    """The context string of each paragraph of one article (objects with `.kind` and `.text`, in order).

    "title": the article's title (none for the title itself). "title+previous": the title, then the paragraph
    just before (unless that is the title). Empty where there is nothing to add.
    """
    if mode not in CONTEXT_MODES:
        raise ValueError(f"context mode {mode!r}: use one of {', '.join(CONTEXT_MODES)}")
    if mode == "none":
        return [""] * len(paragraphs)
    title = next((p.text for p in paragraphs if p.kind == TITLE), "")
    out = []
    for i, paragraph in enumerate(paragraphs):
        parts = [title] if title and paragraph.kind != TITLE else []
        if mode == "title+previous" and i > 0 and paragraphs[i - 1].kind != TITLE:
            parts.append(paragraphs[i - 1].text)
        out.append("\n".join(parts))
    return out
