"""The token budgeter keeps what matters most when the window is tight."""

from __future__ import annotations

from bot.pipeline.budget import Section, fit, to_messages


def words(text: str) -> int:
    return len(text.split())


def test_everything_fits_when_the_budget_allows() -> None:
    sections = [
        Section("persona", 100, units=["be kind"], required=True),
        Section("recall", 70, header="memories:", units=["a b", "c d"]),
    ]
    fitted = fit(sections, budget=1000, count=words)
    assert [s.name for s in fitted.system] == ["persona", "recall"]
    assert fitted.dropped_units == 0


def test_required_sections_survive_a_budget_they_exceed() -> None:
    sections = [Section("persona", 100, units=["one two three four five"], required=True)]
    assert fit(sections, budget=1, count=words).system[0].units == ["one two three four five"]


def test_lower_priority_sections_go_first() -> None:
    sections = [
        Section("recall", 70, units=["x " * 10]),
        Section("chain", 80, units=["y " * 10]),
    ]
    fitted = fit(sections, budget=16, count=words)
    assert [s.name for s in fitted.system] == ["chain"]
    assert fitted.dropped_units == 1


def test_history_loses_its_oldest_turns_first() -> None:
    history = Section(
        "recent",
        60,
        kind="history",
        units=["old old old", "mid mid mid", "new new new"],
        roles=["user", "assistant", "user"],
    )
    fitted = fit([history], budget=14, count=words)
    assert fitted.history is not None
    assert fitted.history.units == ["mid mid mid", "new new new"]
    assert fitted.history.roles == ["assistant", "user"]


def test_units_keep_their_relevance_order_when_some_are_dropped() -> None:
    recall = Section("recall", 70, units=["best " * 3, "huge " * 50, "third " * 3])
    fitted = fit([recall], budget=20, count=words)
    assert fitted.system[0].units == ["best " * 3, "third " * 3]


def test_messages_are_system_then_history_then_the_turn() -> None:
    sections = [
        Section("persona", 100, units=["be kind"], required=True),
        Section("recent", 60, kind="history", units=["hi", "hello"], roles=["user", "assistant"]),
    ]
    messages = to_messages(fit(sections, 100, words), "how are you")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "be kind"
    assert messages[-1]["content"] == "how are you"
