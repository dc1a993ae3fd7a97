"""Make a reply safe to deliver: split it into Discord-sized messages and defuse mentions.

Neutralise mentions before splitting, so the characters that inserts count toward the limit.

Code fences are read line by line, the way models write them: a fence is a line of optional indentation,
three or more backticks and an info string without backticks ("```python"), and each one toggles in or
out of a code block whatever its info string. When a chunk ends inside a block it gets a closing
"\\n```" line and the next chunk starts with "```<language>\\n", so every chunk renders on its own.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

from bot.safety.normalize import grapheme_safe_cut, is_invisible

DISCORD_LIMIT = 2000
# Room for a reopened and a closed fence and a few characters of content between them.
MIN_LIMIT = 16

_CLOSER = "\n```"
_BARE_OPENER = "```\n"
_FENCE_LINE_RE = re.compile(r"^[ \t]*`{3,}([^`\n]*)$", re.MULTILINE)
_FENCE_FULL_RE = re.compile(r"[ \t]*`{3,}([^`]*)")
# Discord highlights only a language name directly after the backticks; anything else is not reopened.
_LANGUAGE_RE = re.compile(r"[A-Za-z0-9_+\-.#]{1,32}")
_LEADING_SPACE_RE = re.compile(r"\s*")
_BLANK_LINES_RE = re.compile(r"(?:[^\S\n]*\n)*(?:[^\S\n]*\Z)?")
_BARE_FENCE_RE = re.compile(r"[ \t]*`{3,}[^\S\n]*(?:\n|\Z)")
_PARAGRAPH_RE = re.compile(r"\n(?:[^\S\n]*\n)+")
_SENTENCE_RE = re.compile(r"[.!?…]+[\"'’”»)\]]*([^\S\n]+)|[。！？]+")
_SPACE_RE = re.compile(r"[^\S\n]+")
_BACKTICKS_RE = re.compile(r"`+")


def _language(info: str) -> str:
    words = info.split(maxsplit=1)
    return words[0] if words and _LANGUAGE_RE.fullmatch(words[0]) else ""


def _scan(body: str, language: str | None) -> str | None:
    # The state after body: None outside a code block, else the language of the block it ends in.
    for match in _FENCE_LINE_RE.finditer(body):
        language = _language(match.group(1)) if language is None else None
    return language


def _opener(language: str, limit: int) -> str:
    opener = f"```{language}\n"
    # Fence lines must leave most of a chunk for content.
    return opener if len(opener) + len(_CLOSER) <= limit // 2 else _BARE_OPENER


def _inline_spans(line: str, offset: int) -> list[tuple[int, int]]:
    # A run of backticks opens a span closed by the next run of the same length (as in CommonMark).
    runs = [match.span() for match in _BACKTICKS_RE.finditer(line)]
    following: list[int] = [-1] * len(runs)
    last_of_length: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        following[i] = last_of_length.get(length, -1)
        last_of_length[length] = i
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        j = following[i]
        if j < 0:
            i += 1
            continue
        spans.append((offset + runs[i][0], offset + runs[j][1]))
        i = j + 1
    return spans


@dataclass
class _Candidates:
    """Split points of one kind: a chunk ends at a start and the next begins at the matching end."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def add(self, start: int, end: int) -> None:
        self.starts.append(start)
        self.ends.append(end)

    def last(self, low: int, high: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self.starts, high) - 1
        if i >= 0 and self.starts[i] > low:
            return self.starts[i], self.ends[i]
        return None


class _Layout:
    """Where text can be split, best kind first, and where its code blocks are."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fence_ends: list[int] = []
        self.open_after: list[bool] = []
        self.spans: list[tuple[int, int]] = []
        fence_lines: list[tuple[int, int]] = []
        boundaries: list[tuple[int, int]] = []
        lines = _Candidates()
        self._scan_lines(fence_lines, boundaries, lines)
        for match in _PARAGRAPH_RE.finditer(text):
            if not self.in_fence(match.start()):
                boundaries.append(match.span())
        boundaries.sort()
        paragraphs = _Candidates([s for s, _ in boundaries], [t for _, t in boundaries])
        # Words are never split inside a fence line or an inline code span.
        no_split = sorted(fence_lines + self.spans)
        sentences = self._within_lines(_SENTENCE_RE, no_split)
        spaces = self._within_lines(_SPACE_RE, no_split)
        self.levels = (paragraphs, lines, sentences, spaces)
        self.span_starts = [start for start, _ in self.spans]

    def _scan_lines(
        self, fence_lines: list[tuple[int, int]], boundaries: list[tuple[int, int]], lines: _Candidates
    ) -> None:
        text, start = self.text, 0
        inside = has_code = False
        while True:
            newline = text.find("\n", start)
            end = len(text) if newline < 0 else newline
            line = text[start:end]
            if "```" in line and _FENCE_FULL_RE.fullmatch(line):
                fence_lines.append((start, end))
                inside = not inside
                self.fence_ends.append(end)
                self.open_after.append(inside)
                # The edges of a code block are as good as a paragraph break; the line break right after
                # an opening fence is no split point at all (it would leave an empty block behind).
                if inside:
                    has_code = False
                    if start > 0:
                        boundaries.append((start - 1, start))
                elif newline >= 0:
                    boundaries.append((newline, newline + 1))
            else:
                if inside:
                    has_code = has_code or bool(line.strip())
                elif "`" in line:
                    self.spans.extend(_inline_spans(line, start))
                if newline >= 0 and (has_code or not inside):
                    lines.add(newline, newline + 1)
            if newline < 0:
                return
            start = newline + 1

    def _within_lines(self, pattern: re.Pattern[str], no_split: list[tuple[int, int]]) -> _Candidates:
        text, found = self.text, _Candidates()
        k = 0
        for match in pattern.finditer(text):
            if match.lastindex:
                start, end = match.span(1)
            else:
                start = end = match.end()
            # Leading indentation and trailing spaces sit beside a line break, which is the better split.
            if start == 0 or text[start - 1] == "\n" or end == len(text) or text[end] == "\n":
                continue
            # A chunk starting with backticks would read as a fence line that was not one.
            if text.startswith("```", end):
                continue
            # The intervals are disjoint and sorted; a whitespace run cannot reach past the first one
            # that ends after it starts (spans begin with a backtick, fence lines at a line start).
            while k < len(no_split) and no_split[k][1] <= start:
                k += 1
            if k < len(no_split):
                low, high = no_split[k]
                if low < start < high or low < end < high:
                    continue
            found.add(start, end)
        return found

    def in_fence(self, position: int) -> bool:
        """Return whether a chunk ending at position ends inside a code block."""
        i = bisect.bisect_right(self.fence_ends, position) - 1
        return i >= 0 and self.open_after[i]

    def choose(self, pos: int, room: int, reserve: bool) -> tuple[int, int]:
        """Return where the chunk starting at pos ends and where the next one starts."""
        high = min(pos + room, len(self.text))
        # A split point in the far half of the room keeps chunks full; only without one is an earlier
        # boundary better than a hard split.
        for low in (pos + room // 2, pos):
            for level in self.levels:
                found = level.last(low, high)
                if found and (reserve or self.in_fence(found[0])) and found[0] > high - len(_CLOSER):
                    found = level.last(low, high - len(_CLOSER))
                if found:
                    return found
        if reserve or self.in_fence(high):
            high -= len(_CLOSER)
        cut = self._hard_cut(pos, high)
        return cut, cut

    def _hard_cut(self, pos: int, cut: int) -> int:
        text = self.text
        i = bisect.bisect_left(self.span_starts, cut) - 1
        if i >= 0 and cut < self.spans[i][1] and self.spans[i][0] > pos:
            cut = self.spans[i][0]
        if cut < len(text) and text[cut] == "`" and text[cut - 1] == "`":
            run_start = cut - 1
            while run_start > pos and text[run_start - 1] == "`":
                run_start -= 1
            if run_start > pos:
                cut = run_start
        return grapheme_safe_cut(text, cut, pos + 1)


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return pos if match is None else match.end()


def _skip_blank(text: str, pos: int, language: str | None) -> tuple[int, str | None]:
    # Outside a block, whitespace at a chunk's start is dropped (Discord trims it anyway); inside one,
    # indentation matters, so only blank lines go, and a block that ends right here is not reopened.
    if language is not None:
        pos = _match_end(_BLANK_LINES_RE, text, pos)
        at_line_start = pos == 0 or text[pos - 1] == "\n"
        fence = _BARE_FENCE_RE.match(text, pos) if at_line_start else None
        if fence is None:
            return pos, language
        pos = fence.end()
    return _match_end(_LEADING_SPACE_RE, text, pos), None


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split text into non-empty chunks of at most limit characters, keeping code blocks whole."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}")
    chunks: list[str] = []
    layout: _Layout | None = None
    pos, language = 0, None
    while True:
        pos, language = _skip_blank(text, pos, language)
        if pos >= len(text):
            return chunks
        prefix = "" if language is None else _opener(language, limit)
        room = limit - len(prefix)
        if len(text) - pos <= room:
            body = text[pos:].rstrip()
            ends_in = _scan(body, language)
            if ends_in is None or len(body) + len(_CLOSER) <= room:
                chunks.append(prefix + body + ("" if ends_in is None else _CLOSER))
                return chunks
        if layout is None:
            # Built only for text that needs splitting: most replies fit in one message.
            layout = _Layout(text)
        end, pos_next = layout.choose(pos, room, reserve=False)
        body = text[pos:end].rstrip()
        ends_in = _scan(body, language)
        if ends_in is not None and len(body) + len(_CLOSER) > room:
            # The chunk ends in a block the layout did not see (a fence split mid-line): make room.
            end, pos_next = layout.choose(pos, room, reserve=True)
            body = text[pos:end].rstrip()
            ends_in = _scan(body, language)
        if body and not body.isspace():
            chunks.append(prefix + body + ("" if ends_in is None else _CLOSER))
            language = ends_in
        pos = pos_next


_MENTION_RE = re.compile(r"<@[!&]?[0-9]+>|@(?:everyone|here)", re.IGNORECASE)
# The characters NFKC folds to "@": any of them may start a disguised mention.
_AT_SIGNS = ("@", "\uff20", "\ufe6b")
_ZWSP = "\u200b"


def _folded_view(text: str) -> tuple[str, list[int]]:
    # The text as normalize_text would read it, character by character, with where each character came
    # from, so that only the mentions found in it are rewritten.
    view: list[str] = []
    owner: list[int] = []
    for i, char in enumerate(text):
        if char.isascii():
            # ASCII control characters other than line breaks and tabs are invisible, like the rest.
            if char.isprintable() or char in "\n\t":
                view.append(char)
                owner.append(i)
            continue
        if is_invisible(char):
            continue
        for folded in unicodedata.normalize("NFKC", char):
            view.append(folded)
            owner.append(i)
    return "".join(view), owner


def neutralize_mentions(text: str) -> str:
    """Put a zero-width space after the @ of every everyone, here, user and role mention so none pings."""
    # The real guarantee is AllowedMentions.none() on every send; this is belt and braces for a send
    # path that forgets it. Mentions are found on a normalised view, so "@every\u200bone" or a fullwidth
    # "＠everyone" are caught, but only the mentions are rewritten: NFKC on a whole reply would flatten
    # "x²" to "x2". The cost is a zero-width space after "@" in any text that merely looks like a mention,
    # such as "@heredoc".
    if not any(sign in text for sign in _AT_SIGNS):
        return text
    view, owner = _folded_view(text)
    pieces: list[str] = []
    done = 0
    for match in _MENTION_RE.finditer(view):
        first, last = owner[match.start()], owner[match.end() - 1]
        if first < done:
            continue
        # Widen to whole source characters, in case one folded into several view characters.
        start, end = match.start(), match.end()
        while start > 0 and owner[start - 1] == first:
            start -= 1
        while end < len(owner) and owner[end] == last:
            end += 1
        at = view.index("@", match.start()) + 1
        pieces += [text[done:first], view[start:at], _ZWSP, view[at:end]]
        done = last + 1
    pieces.append(text[done:])
    return "".join(pieces)
