"""The crisis model beside the rules: the shipped weights, what it adds and takes away, retraining, and the
rules running alone when the weights cannot be read."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.train_crisis import features, fit
from bot.safety import crisis_model
from bot.safety.crisis import check, keyword_only, prepare, rule_hits
from bot.safety.crisis_model import Hashing, default_model

CLEAR_CRISIS = [
    ("en", "i dont see any reason to keep going anymore"),
    ("en", "honestly everyone would be fine without me around"),
    ("es", "ya no quiero seguir viviendo, estoy harto de todo"),
    ("fr", "j'en peux plus, je veux que tout s'arrête pour de bon"),
    ("de", "ich will einfach nicht mehr leben, alles ist sinnlos"),
    ("pt", "cansei de tudo, não quero mais viver"),
]

CLEARLY_NOT = [
    ("en", "this traffic jam is killing me"),
    ("en", "can you pass me the salt"),
    ("es", "me muero de ganas de ir al concierto"),
    ("es", "vamos al cine mañana a las ocho"),
    ("fr", "je meurs de chaud dans ce bus"),
    ("fr", "on mange où ce soir ?"),
    ("de", "ich sterbe gleich vor lachen"),
    ("de", "wann fährt der nächste zug"),
    ("pt", "tô morrendo de sono hoje"),
    ("pt", "bora jogar mais tarde?"),
]


@pytest.fixture
def unreadable_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Point the loader at a file that does not exist, and restore the shipped model afterwards."""
    monkeypatch.setattr(crisis_model, "model_path", lambda: tmp_path / "missing.npz")
    default_model.cache_clear()
    yield
    default_model.cache_clear()


def test_the_shipped_weights_load_with_their_hashing_and_thresholds() -> None:
    model = default_model()
    assert model is not None
    assert model.weights.shape == (model.hashing.buckets,)
    assert 0.0 <= model.veto_below < model.fire_at <= 1.0
    assert crisis_model.model_path().stat().st_size < 1_000_000


def test_the_model_scores_a_probability() -> None:
    model = default_model()
    assert model is not None
    probability = model.probability(prepare("i want to die"))
    assert 0.0 < probability < 1.0
    assert model.probability("") == pytest.approx(1.0 / (1.0 + np.exp(-model.bias)))


@pytest.mark.parametrize(("locale", "text"), CLEAR_CRISIS)
def test_clear_crisis_messages_fire_and_the_model_agrees(locale: str, text: str) -> None:
    model = default_model()
    assert model is not None
    result = check(text)
    assert result.hit and result.locale == locale
    assert model.probability(prepare(text)) > 0.5


@pytest.mark.parametrize(("locale", "text"), CLEARLY_NOT)
def test_figures_of_speech_and_everyday_chat_do_not_fire(locale: str, text: str) -> None:
    model = default_model()
    assert model is not None
    assert not check(text).hit
    assert model.probability(prepare(text)) < model.fire_at


def test_the_model_alone_catches_a_phrasing_the_rules_miss_and_names_itself() -> None:
    text = "je n'ai plus envie d'être là, personne ne me retiendra"
    assert not rule_hits(prepare(text))
    result = check(text)
    assert result.hit and result.signals == ("fr.model",)


def test_news_that_only_names_suicide_is_cleared_by_the_model() -> None:
    text = "we watched a documentary on teen suicide"
    assert keyword_only(rule_hits(prepare(text)))  # the rules alone would fire, on the bare word only
    assert not check(text).hit


def test_a_first_person_signal_beside_the_keyword_is_never_vetoed() -> None:
    result = check("i keep thinking about suicide, i want to kill myself")
    assert result.hit and "en.kill_self" in result.signals


def test_training_twice_on_the_same_rows_gives_the_same_weights() -> None:
    texts = [prepare(t) for t in ("i want to die", "nobody would miss me", "lunch was great", "see you")] * 3
    labels = np.array([1, 1, 0, 0] * 3)
    hashing = Hashing(buckets=1 << 10)
    first = fit(features(texts, hashing), labels)
    second = fit(features(texts, hashing), labels)
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]
    assert np.any(first[0] != 0)


def test_features_are_crc32_buckets_not_pythons_string_hash() -> None:
    # The same buckets in every process, whatever PYTHONHASHSEED is: " hi", "hi ", " hi " and the word.
    pieces = [b"c hi", b"chi ", b"c hi ", b"whi"]
    expected = sorted({zlib.crc32(piece) % 1024 for piece in pieces})
    assert crisis_model.feature_buckets("hi", Hashing(buckets=1024)) == expected


@pytest.mark.usefixtures("unreadable_model")
def test_without_weights_the_rules_run_alone_and_say_so_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.safety.crisis_model"):
        assert check("i want to kill myself").signals == ("en.kill_self", "en.intent_self")
        assert not check("je n'ai plus envie d'être là, personne ne me retiendra").hit  # the model's catch
        assert check("we watched a documentary on teen suicide").hit  # no model, no veto
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rules run alone" in warnings[0].getMessage()


def test_a_corrupt_weights_file_leaves_the_rules_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "crisis_model.npz"
    path.write_bytes(b"not a zip file")
    monkeypatch.setattr(crisis_model, "model_path", lambda: path)
    default_model.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.safety.crisis_model"):
            assert default_model() is None
            assert check("quiero morir").hit
        assert any("rules run alone" in r.getMessage() for r in caplog.records)
    finally:
        default_model.cache_clear()


def test_weights_written_before_skip_grams_and_stems_still_load(tmp_path: Path) -> None:
    # An older weights file has no skip_window or stem keys: it used neither feature.
    path = tmp_path / "old.npz"
    np.savez(
        path,
        weights=np.zeros(1 << 10, dtype=np.float32),
        bias=np.float32(0.0),
        buckets=np.int64(1 << 10),
        char_min=np.int64(3),
        char_max=np.int64(5),
        word_max=np.int64(2),
        fire_at=np.float32(0.95),
        veto_below=np.float32(0.1),
    )
    model = crisis_model.load_model(path)
    assert model.hashing == Hashing(buckets=1 << 10)
    assert model.hashing.skip_window == 0 and model.hashing.stem == 0


def test_skip_grams_and_stems_add_their_own_buckets() -> None:
    plain = Hashing(buckets=1 << 20)
    richer = Hashing(buckets=1 << 20, skip_window=3, stem=5)
    text = "ich will mich heute umbringen"
    base = set(crisis_model.feature_buckets(text, plain))
    more = set(crisis_model.feature_buckets(text, richer))
    assert base < more
    # "will ... heute" (two apart) and the stem "umbri" are among the added pieces
    assert zlib.crc32(b"swill heute") % (1 << 20) in more - base
    assert zlib.crc32(b"tumbri") % (1 << 20) in more - base


def test_the_shipped_weights_use_the_richer_features() -> None:
    model = default_model()
    assert model is not None
    assert model.hashing.skip_window > 0 and model.hashing.stem > 0


def test_other_peoples_self_harm_and_overdoses_named_in_passing_are_cleared_by_the_model() -> None:
    for text in (
        "my cousin told me about her self-harm scars at dinner",
        "the series has an episode about an overdose at a party",
    ):
        assert keyword_only(rule_hits(prepare(text)))  # only a bare word fired
        assert not check(text).hit


def test_first_person_self_harm_and_suicidal_feelings_are_never_vetoed() -> None:
    for text, signal in (
        ("i've been self harming since december", "en.self_harm"),
        ("honestly i feel suicidal today", "en.suicide_self"),
        ("he pensado mucho en el suicidio", "es.suicide_self"),
    ):
        result = check(text)
        assert result.hit and signal in result.signals, text


def test_a_bare_word_in_a_very_short_message_is_never_vetoed() -> None:
    assert check("suicide").hit
    assert check("overdose tonight").hit


def test_the_training_corpus_is_one_section_and_its_everyday_rows_count_as_chat(tmp_path: Path) -> None:
    from bench.train_crisis import CHAT, read_corpus, section_names

    pos, neg = tmp_path / "pos.tsv", tmp_path / "neg.tsv"
    pos.write_text(
        "# header\nen\tcrisis\ti want to die\nen\tcrisis\tnobody would miss me\n", encoding="utf-8"
    )
    neg.write_text("en\teveryday\tlunch was great\nen\tneutral\tthe film is about grief\n", encoding="utf-8")
    rows = read_corpus([pos, neg], 7, {prepare("i want to die")})
    assert [(e.category, e.section) for e in rows] == [("crisis", 7), (CHAT, 7), ("neutral", 7)]
    sets = tmp_path / "dev.tsv"
    sets.write_text(
        "en\tcrisis\ta\n# --- formerly the held-out set v8: measured\nen\tcrisis\tb\n", encoding="utf-8"
    )
    assert section_names(sets) == ["base", "v8"]


def test_training_refuses_a_held_out_test_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import train_crisis

    monkeypatch.setattr("sys.argv", ["train_crisis.py", "--data", "bench/data/crisis_test.tsv", "--no-save"])
    with pytest.raises(SystemExit) as stopped:
        train_crisis.main()
    assert stopped.value.code == 2
