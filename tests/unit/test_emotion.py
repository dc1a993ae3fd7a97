"""The offline emotion detector: the reading's shape, and the chat rules (slang, emoji, negation...)."""

from __future__ import annotations

import json
import math

import pytest

from bot.emotion import LABELS, EmotionReading, detect
from bot.emotion.detector import score


def test_reading_is_a_distribution_over_every_label() -> None:
    reading = detect("ugh my landlord is so annoying")
    assert set(reading.emotions) == set(LABELS)
    assert math.isclose(sum(reading.emotions.values()), 1.0, abs_tol=1e-9)
    assert all(0.0 < p < 1.0 for p in reading.emotions.values())
    assert reading.emotion == max(reading.emotions, key=reading.emotions.__getitem__)


def test_labels_cover_the_seven_emotions() -> None:
    assert set(LABELS) == {"joy", "sadness", "anger", "fear", "surprise", "loneliness", "neutral"}


def test_as_dict_is_json_ready_and_rounded() -> None:
    reading = detect("so happy today 🎉")
    data = reading.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"emotion", "emotions", "valence", "intensity"}
    assert data["emotions"] == {label: round(p, 4) for label, p in reading.emotions.items()}


def test_reading_is_frozen() -> None:
    reading = detect("hello")
    with pytest.raises(AttributeError):
        reading.emotion = "joy"  # type: ignore[misc]
    assert isinstance(reading, EmotionReading)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("just got the job offer!!! 🥳", "joy"),
        ("lets gooo we won", "joy"),
        ("my dog died this morning 💔", "sadness"),
        ("i feel like crap honestly", "sadness"),
        ("im so pissed off rn", "anger"),
        ("my roommate ate my food AGAIN wtf", "anger"),
        ("job interview tomorrow and im freaking out", "fear"),
        ("what if the test comes back positive", "fear"),
        ("wait what, he's getting married??", "surprise"),
        ("no way!! didnt see that coming", "surprise"),
        ("nobody texted me on my birthday", "loneliness"),
        ("eating dinner alone again", "loneliness"),
        ("what time does the store close", "neutral"),
        ("brb grabbing water", "neutral"),
    ],
)
def test_chat_messages_get_their_label(text: str, label: str) -> None:
    assert detect(text).emotion == label


def test_stretched_letters_are_read_as_the_word() -> None:
    assert detect("im soooo happyyyyy").emotion == "joy"
    assert detect("sooo lonelyyy").emotion == "loneliness"


def test_emoji_alone_carry_emotion() -> None:
    assert detect("😭😭💔").emotion == "sadness"
    assert detect("🤬").emotion == "anger"


def test_negated_joy_reads_as_sadness_and_negated_fear_does_not_read_as_fear() -> None:
    assert detect("i'm not happy at all").emotion == "sadness"
    assert detect("i am not scared").emotion != "fear"


def test_intensifiers_and_capitals_raise_intensity() -> None:
    plain = detect("i am happy")
    strong = detect("I am SO HAPPY!!!")
    assert strong.intensity > plain.intensity
    assert strong.emotions["joy"] > plain.emotions["joy"]


def test_softeners_lower_the_cue() -> None:
    plain, _ = score("i am scared")
    soft, _ = score("i am kinda scared")
    assert soft["fear"] < plain["fear"]


def test_after_but_the_second_clause_weighs_more() -> None:
    assert detect("the trip was fun but now im so sad").emotion == "sadness"


def test_valence_follows_the_emotion() -> None:
    assert detect("best day ever 🎉").valence > 0.5
    assert detect("i feel so hopeless and sad").valence < -0.5
    assert abs(detect("the bus leaves at 8").valence) < 0.15


def test_a_neutral_message_has_low_intensity() -> None:
    assert detect("i'm going to the library").intensity < 0.1


@pytest.mark.parametrize("text", ["", "   ", "?!?!", "🙂" * 2000, "a" * 20_000, "\u200b\u200d"])
def test_any_input_gets_a_valid_reading(text: str) -> None:
    reading = detect(text)
    assert reading.emotion in LABELS
    assert -1.0 <= reading.valence <= 1.0 and 0.0 <= reading.intensity <= 1.0
