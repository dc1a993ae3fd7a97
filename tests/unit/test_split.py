"""Replies split into Discord-sized chunks that render on their own; mentions in them cannot ping."""

from __future__ import annotations

import re

import pytest

from bot.delivery import neutralize_mentions, split_message

FENCE_LINE = re.compile(r"[ \t]*`{3,}[^`]*")


def fence_lines(chunk: str) -> list[str]:
    return [line for line in chunk.split("\n") if FENCE_LINE.fullmatch(line)]


def without_fences_and_space(text: str) -> str:
    kept = [line for line in text.split("\n") if not FENCE_LINE.fullmatch(line)]
    return re.sub(r"\s", "", "".join(kept))


def code_block(language: str, lines: int, width: int = 40) -> str:
    body = "\n".join(f"    value_{i} = compute({i})".ljust(width, "#") for i in range(lines))
    return f"```{language}\n{body}\n```"


def prose(sentences: int) -> str:
    return " ".join(f"This is sentence number {i} of the reply." for i in range(sentences))


def test_short_text_is_one_chunk() -> None:
    assert split_message("Hello there!") == ["Hello there!"]


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \n", "\u3000\n"])
def test_empty_or_whitespace_only_text_gives_no_chunks(text: str) -> None:
    assert split_message(text) == []


def test_text_of_exactly_the_limit_is_one_chunk() -> None:
    assert split_message("x" * 2000) == ["x" * 2000]


def test_split_prefers_a_paragraph_break() -> None:
    first, second = "a " * 600, "b\nb " * 300

    assert split_message(first.strip() + "\n\n" + second.strip()) == [first.strip(), second.strip()]


def test_split_prefers_a_line_break_to_a_sentence_end() -> None:
    first = "Short one. " * 130 + "end"
    second = "c. " * 300

    assert split_message(first + "\n" + second)[0] == first


def test_split_prefers_a_sentence_end_to_a_space() -> None:
    sentence = "word " * 299 + "end. "
    text = sentence * 3

    chunks = split_message(text)

    assert all(chunk.endswith("end.") for chunk in chunks)


def test_split_prefers_a_space_to_a_hard_split() -> None:
    text = "abcdefghi " * 300

    chunks = split_message(text)

    assert all(chunk.endswith("abcdefghi") for chunk in chunks)


def test_giant_word_is_hard_split_at_the_limit() -> None:
    assert split_message("y" * 5000) == ["y" * 2000, "y" * 2000, "y" * 1000]


def test_hard_split_keeps_an_emoji_sequence_whole() -> None:
    family = "👩\u200d👩\u200d👧"
    text = "z" * 1998 + family + "z" * 10

    first, second = split_message(text)

    assert (first, second) == ("z" * 1998, family + "z" * 10)


def test_split_inside_a_code_block_closes_and_reopens_it_with_its_language() -> None:
    text = code_block("python", 100)

    chunks = split_message(text, 1000)

    assert len(chunks) > 1
    assert all(chunk.startswith("```python\n") for chunk in chunks)
    assert all(chunk.endswith("\n```") for chunk in chunks)


def test_reopened_fence_lines_count_toward_the_limit() -> None:
    chunks = split_message(code_block("typescript", 300), 500)

    assert max(len(chunk) for chunk in chunks) <= 500


def test_code_block_that_fits_is_kept_in_one_chunk() -> None:
    block = code_block("rust", 20)
    text = prose(30) + "\n\n" + block + "\n\n" + prose(10)

    chunks = split_message(text)

    assert any(block in chunk for chunk in chunks)


def test_seven_thousand_character_reply_with_several_fences_splits_cleanly() -> None:
    parts = [prose(15), code_block("python", 60), prose(10), code_block("js", 30), prose(18)]
    parts += [code_block("", 40), prose(8)]
    text = "\n\n".join(parts)
    assert 6_500 <= len(text) <= 7_500

    chunks = split_message(text)

    assert len(chunks) >= 4
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(len(fence_lines(chunk)) % 2 == 0 for chunk in chunks)
    assert "".join(map(without_fences_and_space, chunks)) == without_fences_and_space(text)


def test_continued_block_keeps_the_language_of_its_opening_fence() -> None:
    text = prose(10) + "\n\n" + code_block("python", 60) + "\n\n" + code_block("js", 60)

    chunks = split_message(text, 1200)

    openers = [fence_lines(chunk)[0] for chunk in chunks if fence_lines(chunk)]
    assert set(openers) == {"```python", "```js"}
    assert openers == sorted(openers, key=lambda fence: fence != "```python")


def test_info_string_beyond_the_language_is_not_repeated_when_reopening() -> None:
    text = code_block("python title=example.py", 100)

    chunks = split_message(text, 1000)

    assert all(chunk.startswith("```python\n") for chunk in chunks[1:])


def test_unclosed_fence_is_closed_in_every_chunk() -> None:
    text = "Here you go:\n\n```python\n" + "\n".join(f"print({i})" for i in range(600))

    chunks = split_message(text)

    assert len(chunks) > 1
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(len(fence_lines(chunk)) % 2 == 0 for chunk in chunks)
    assert chunks[-1].endswith("\n```")


def test_unclosed_fence_that_fits_is_closed() -> None:
    assert split_message("```sh\nls -la") == ["```sh\nls -la\n```"]


def test_block_ending_right_at_a_split_leaves_no_empty_block_behind() -> None:
    lines = "\n".join("x" * 9 for _ in range(99))  # 989 characters
    # The indented closing fence is 4 characters longer than the added one, so only the added one fits.
    text = "```\n" + lines + "\n    ```\n" + "after the block"

    chunks = split_message(text, 1000)

    assert chunks == ["```\n" + lines + "\n```", "after the block"]


def test_giant_line_inside_a_block_is_hard_split_within_the_fences() -> None:
    text = "```\n" + "q" * 3000 + "\n```"

    chunks = split_message(text)

    assert [len(chunk) for chunk in chunks] == [2000, 1016]
    assert all(chunk.startswith("```\n") and chunk.endswith("\n```") for chunk in chunks)


def test_cut_line_that_only_then_reads_as_a_fence_still_fits_with_its_closer() -> None:
    # A trailing backtick keeps this line from being a fence until a hard split cuts that backtick off.
    text = "```" + "x" * 30 + "`"

    chunks = split_message(text, 16)

    assert all(len(chunk) <= 16 and len(fence_lines(chunk)) % 2 == 0 for chunk in chunks)


def test_inline_code_span_is_not_split() -> None:
    span = "`" + "inline code with spaces " * 4 + "`"
    text = "a " * 980 + span + " tail"

    chunks = split_message(text)

    assert any(span in chunk for chunk in chunks)


def test_crlf_reply_splits_without_stray_carriage_returns() -> None:
    text = "\r\n".join(f"line number {i} of the reply" for i in range(200))

    chunks = split_message(text)

    assert len(chunks) > 1
    assert not any(chunk.endswith("\r") or chunk.startswith("\n") for chunk in chunks)


def test_hundred_thousand_character_reply_is_split_within_the_limit() -> None:
    text = (prose(40) + "\n\n" + code_block("python", 40) + "\n\n") * 31
    assert len(text) >= 100_000

    chunks = split_message(text)

    assert all(0 < len(chunk) <= 2000 for chunk in chunks)
    assert "".join(map(without_fences_and_space, chunks)) == without_fences_and_space(text)


def test_limit_below_the_minimum_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least"):
        split_message("hello", 8)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("@everyone look", "@\u200beveryone look", id="everyone"),
        pytest.param("hey @here!", "hey @\u200bhere!", id="here"),
        pytest.param("@EVERYONE", "@\u200bEVERYONE", id="any-case"),
        pytest.param("hi <@123456789>", "hi <@\u200b123456789>", id="user"),
        pytest.param("<@!123456789>", "<@\u200b!123456789>", id="nickname-user"),
        pytest.param("<@&987654321>", "<@\u200b&987654321>", id="role"),
        pytest.param("@every\u200bone", "@\u200beveryone", id="zero-width-inside"),
        pytest.param("@\u2060here", "@\u200bhere", id="word-joiner-after-at"),
        pytest.param("<@\u200d123>", "<@\u200b123>", id="joiner-inside-user-mention"),
        pytest.param("＠ｅｖｅｒｙｏｎｅ", "@\u200beveryone", id="fullwidth"),
        pytest.param("@\x00everyone", "@\u200beveryone", id="control-character-inside"),
    ],
)
def test_mentions_are_neutralised(raw: str, expected: str) -> None:
    assert neutralize_mentions(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("mail me at someone@example.com", id="email"),
        pytest.param("channel <#123> and emoji <:wave:456>", id="non-pinging-markup"),
        pytest.param("no at sign at all", id="plain"),
    ],
)
def test_text_without_mentions_is_unchanged(text: str) -> None:
    assert neutralize_mentions(text) == text


def test_only_the_mention_is_normalised() -> None:
    assert neutralize_mentions("x² ﬁne @every\u200bone") == "x² ﬁne @\u200beveryone"


def test_neutralising_twice_changes_nothing_more() -> None:
    once = neutralize_mentions("@everyone <@1> @every\u200bone ＠here")

    assert neutralize_mentions(once) == once
