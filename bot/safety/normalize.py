"""Normalise incoming text so every later check reads the words a person sees, and bound its length.

Invisible characters are the usual way to slip a word past a filter: "k\\u200bill" renders as "kill" and
"@every\\u200bone" as "@everyone". ``normalize_text`` removes them and folds lookalike forms (fullwidth
letters, ligatures) with NFKC, so the crisis check, mention handling and rate limits see plain text.

The characters are listed as explicit code point ranges, not looked up by ``unicodedata.category``, so
what is removed does not shift when Python's Unicode tables do.

Always removed:

- Format characters (Cf) that draw nothing: soft hyphen, ZWSP, ZWNJ, LRM/RLM/ALM, the bidi embeddings,
  overrides and isolates (U+202A..U+202E, U+2066..U+2069), word joiner and the invisible operators
  (U+2060..U+2064), the deprecated format controls (U+206A..U+206F), BOM/ZWNBSP, Mongolian vowel
  separator, interlinear annotation marks, Egyptian hieroglyph, shorthand and musical format controls.
- Tag characters (U+E0000..U+E007F). They also hide instructions from people while a language model still
  reads them ("ASCII smuggling"), so they go even though a subdivision flag (🏴 plus tags) then shows as
  a plain black flag.
- The rest of Unicode's default-ignorable characters that render as nothing: combining grapheme joiner,
  Hangul fillers, Khmer inherent vowels, and the unassigned default-ignorable code points.
- C0 and C1 control characters other than tab and newline. CR, CRLF, VT, FF, NEL and the Unicode line and
  paragraph separators become "\\n" first, so a line break is never silently lost.
- ZWNJ although Persian and some Indic spellings use it: the letters stay readable to the model and the
  checks, whereas keeping it would let it split any Latin word unseen.

Kept conditionally:

- ZWJ only between two emoji (a symbol or emoji-block character on each side, after any variation
  selector or skin tone on the left), so 👩‍💻 and 🏳️‍🌈 survive. Emoji are never part of a word a
  check looks for; between letters ZWJ is removed like any other invisible.
- A variation selector only when it directly follows a base that takes one: a symbol, digit (keycaps),
  punctuation, a CJK ideograph or a Mongolian letter. After an alphabet's letter it is an invisible
  dodge, and a run of them is how bytes are hidden in text ("emoji smuggling"), so only one survives.

Kept: the prepended concatenation marks (U+0600..U+0605 and kin), which are visible signs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Inclusive code point ranges removed wherever they appear.
_ALWAYS_STRIPPED: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0008),  # C0 controls before tab
    (0x000E, 0x001F),  # C0 controls after CR (VT, FF and CR are turned into newlines first)
    (0x007F, 0x009F),  # DEL and the C1 controls (NEL is turned into a newline first)
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200C),  # zero width space, zero width non-joiner
    (0x200E, 0x200F),  # left-to-right and right-to-left marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format controls
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # byte order mark / zero width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned default-ignorables, interlinear annotation marks
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE00FF),  # tag characters and unassigned default-ignorables
    (0xE01F0, 0xE0FFF),  # unassigned default-ignorables after the variation selectors supplement
)
_VARIATION_SELECTORS: tuple[tuple[int, int], ...] = (
    (0x180B, 0x180D),  # Mongolian free variation selectors
    (0x180F, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)
_ZWJ = "\u200d"
# Mapped to "\n" before anything else; CRLF is replaced first so it becomes one newline, not two.
_NEWLINES = str.maketrans(dict.fromkeys("\r\x0b\x0c\x85\u2028\u2029", "\n"))
_MAX_PASSES = 4
_MAX_FLAG_RUN = 128


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(re.escape(chr(lo)) + ("-" + re.escape(chr(hi)) if hi > lo else "") for lo, hi in ranges)


def _codepoints(ranges: tuple[tuple[int, int], ...]) -> frozenset[int]:
    return frozenset(cp for lo, hi in ranges for cp in range(lo, hi + 1))


_STRIP_RE = re.compile(f"[{_char_class(_ALWAYS_STRIPPED)}]+")
_SELECTOR_RE = re.compile(f"[{_char_class(_VARIATION_SELECTORS)}]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ZWJ_RE = re.compile(_ZWJ)
_SELECTOR_CODEPOINTS = _codepoints(_VARIATION_SELECTORS)
_INVISIBLE_CODEPOINTS = _codepoints(_ALWAYS_STRIPPED) | _SELECTOR_CODEPOINTS | {ord(_ZWJ)}
# A run of three or more whitespace-only lines, starting at a line start, becomes two empty lines.
_BLANK_RUN_RE = re.compile(r"^(?:[^\S\n]*\n){3,}", re.MULTILINE)


def is_invisible(char: str) -> bool:
    """Return whether char draws nothing by itself (the characters normalize_text may remove)."""
    return ord(char) in _INVISIBLE_CODEPOINTS


def _is_selector(char: str) -> bool:
    return ord(char) in _SELECTOR_CODEPOINTS


def _takes_selector(char: str) -> bool:
    cp = ord(char)
    if cp in _SELECTOR_CODEPOINTS:
        return False
    if unicodedata.category(char)[0] in "SNP":
        return True
    return (
        0x3400 <= cp <= 0x9FFF  # CJK ideographs (extension A and unified)
        or 0xF900 <= cp <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= cp <= 0x3FFFF  # CJK ideograph extensions
        or 0x1800 <= cp <= 0x18AF  # Mongolian
    )


def _is_emoji_side(char: str) -> bool:
    # The emoji blocks are checked by range too, so emoji newer than Python's Unicode tables still count.
    return unicodedata.category(char) in ("So", "Sm") or 0x1F000 <= ord(char) <= 0x1FAFF


def _keep_selector(match: re.Match[str]) -> str:
    i = match.start()
    return match.group() if i > 0 and _takes_selector(match.string[i - 1]) else ""


def _keep_zwj(match: re.Match[str]) -> str:
    text, i = match.string, match.start()
    if 0 < i < len(text) - 1:
        before, after = text[i - 1], text[i + 1]
        if (_is_emoji_side(before) or _is_selector(before)) and _is_emoji_side(after):
            return _ZWJ
    return ""


def _normalize_once(text: str) -> str:
    if _SURROGATE_RE.search(text):
        # Joins surrogate pairs into the character they encode and replaces lone halves, which could
        # not be stored or sent as UTF-8.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\r\n", "\n").translate(_NEWLINES)
    # Invisibles go before NFKC so that what they separated composes ("e", ZWSP, U+0301 gives "é").
    text = _STRIP_RE.sub("", text)
    # NFKC yields none of the stripped characters from any that are left (checked over all of Unicode).
    text = unicodedata.normalize("NFKC", text)
    if _SELECTOR_RE.search(text):
        text = _SELECTOR_RE.sub(_keep_selector, text)
    if _ZWJ in text:
        # After NFKC, because NFKC can turn a symbol beside a ZWJ into letters ("™" becomes "TM").
        text = _ZWJ_RE.sub(_keep_zwj, text)
    return _BLANK_RUN_RE.sub("\n\n", text)


def normalize_text(text: str) -> str:
    """Return text as later checks should read it: NFKC, without invisible or control characters."""
    # A second pass only confirms the result in the usual case; removing a character can, rarely, leave
    # a selector or joiner that the next pass must judge again. Each pass after the first only removes
    # or composes, so it settles; the bound is a guard, not a tuning knob.
    for _ in range(_MAX_PASSES):
        cleaned = _normalize_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _extends_previous(char: str) -> bool:
    cp = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")  # combining marks, including variation selectors
        or cp == 0x200D
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences
        or 0xDC00 <= cp <= 0xDFFF  # the second half of a surrogate pair
    )


def _splits_cluster(text: str, index: int) -> bool:
    if index <= 0 or index >= len(text):
        return False
    before, after = text[index - 1], text[index]
    if before == _ZWJ or _extends_previous(after) or (before == "\r" and after == "\n"):
        return True
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        # Flags are pairs of regional indicators: cutting after an odd count splits a flag. The count is
        # capped so a run of thousands stays cheap; past the cap the pairing is guessed.
        run = 0
        while run < _MAX_FLAG_RUN and index - run - 1 >= 0 and _is_regional_indicator(text[index - run - 1]):
            run += 1
        return run % 2 == 1
    return False


def grapheme_safe_cut(text: str, index: int, lower: int = 0) -> int:
    """Move a cut index back, not below lower, so text[:index] ends on a whole user-perceived character."""
    if index >= len(text):
        return len(text)
    if index <= lower:
        return index
    cut = index
    while cut > lower and _splits_cluster(text, cut):
        cut -= 1
    if not _splits_cluster(text, cut):
        return cut
    # The cluster is longer than the room allowed (a pile of combining marks): cut inside it, but
    # never between the halves of a surrogate pair.
    if 0xDC00 <= ord(text[index]) <= 0xDFFF and 0xD800 <= ord(text[index - 1]) <= 0xDBFF:
        return index - 1
    return index


@dataclass(frozen=True, slots=True)
class Bounded:
    """Text cut to a length bound, with what was cut."""

    text: str
    cut_chars: int
    original_chars: int

    @property
    def notice(self) -> str | None:
        """Return a short sentence telling the sender what was cut, or None when nothing was."""
        if self.cut_chars == 0:
            return None
        if not self.text:
            return f"Your message was {self.original_chars:,} characters, too long for me to read."
        return f"Your message was {self.original_chars:,} characters; I read the first {len(self.text):,}."


def _cut_index(text: str, max_chars: int) -> int:
    # A boundary is only worth losing text for when it is close to the limit: within the last tenth.
    floor = max(0, max_chars - max(1, max_chars // 10))
    newline = text.rfind("\n", floor, max_chars + 1)
    if newline > 0:
        return newline
    for i in range(max_chars, floor, -1):
        if text[i].isspace():
            return i
    return grapheme_safe_cut(text, max_chars, floor)


def bound_length(text: str, max_chars: int) -> Bounded:
    """Cut text to at most max_chars characters, at a line or word boundary near the limit if there is one."""
    if max_chars < 0:
        raise ValueError("max_chars must not be negative")
    if len(text) <= max_chars:
        return Bounded(text=text, cut_chars=0, original_chars=len(text))
    kept = text[: _cut_index(text, max_chars)].rstrip()
    return Bounded(text=kept, cut_chars=len(text) - len(kept), original_chars=len(text))
