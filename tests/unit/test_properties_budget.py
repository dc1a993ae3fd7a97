"""Properties of the token budgeter that must hold for any sections and budget, checked with hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.llm.tokens import count_tokens
from bot.pipeline.budget import Fitted, Section, fit, to_messages

SETTINGS = settings(max_examples=150, deadline=None)
PER_UNIT = 4  # the per-message overhead fit() charges for every optional unit


def cost(text: str) -> int:
    return count_tokens(text, "gpt-4o-mini")


# Short and long units mixed, so that a long one can fail to fit between short ones that do.
unit = st.one_of(
    st.text(alphabet="abc", min_size=1, max_size=3),
    st.text(alphabet="abc dé😀\n<|>", min_size=20, max_size=80),
)


@st.composite
def sections(draw: st.DrawFn) -> list[Section]:
    """Draw system sections with distinct names, some required, plus at most one history section."""
    count = draw(st.integers(min_value=0, max_value=5))
    out = [
        Section(
            name=f"s{i}",
            priority=draw(st.integers(min_value=0, max_value=100)),
            header=draw(st.sampled_from(["", "Memories:", "About you:"])),
            units=draw(st.lists(unit, max_size=6)),
            required=draw(st.booleans()) and i == 0,
        )
        for i in range(count)
    ]
    if draw(st.booleans()):
        turns = draw(st.lists(unit, max_size=8))
        roles = [("user", "assistant")[i % 2] for i in range(len(turns))]
        out.append(Section("history", draw(st.integers(0, 100)), kind="history", units=turns, roles=roles))
    return draw(st.permutations(out))


budgets = st.integers(min_value=0, max_value=120)


def kept(fitted: Fitted) -> list[Section]:
    return fitted.system + ([fitted.history] if fitted.history is not None else [])


def required_cost(parts: list[Section]) -> int:
    return sum(
        (cost(s.header) if s.header else 0) + sum(cost(u) for u in s.units) for s in parts if s.required
    )


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(item in remaining for item in needle)


@SETTINGS
@given(sections(), budgets)
def test_required_sections_are_always_kept_whole(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    by_name = {s.name: s for s in kept(fitted)}
    for section in parts:
        if section.required:
            assert by_name[section.name].units == section.units


@SETTINGS
@given(sections(), budgets)
def test_optional_content_never_pushes_the_total_past_the_budget(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    assert fitted.used_tokens <= max(budget, required_cost(parts))
    if required_cost(parts) >= budget:
        assert all(s.required for s in kept(fitted))


@SETTINGS
@given(sections(), budgets)
def test_used_tokens_is_what_the_kept_content_costs(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    total = 0
    for section in kept(fitted):
        total += cost(section.header) if section.header else 0
        total += sum(cost(u) + (0 if section.required else PER_UNIT) for u in section.units)
    assert fitted.used_tokens == total


@SETTINGS
@given(sections(), budgets)
def test_every_unit_is_either_kept_or_counted_as_dropped(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    assert sum(len(s.units) for s in kept(fitted)) + fitted.dropped_units == sum(len(s.units) for s in parts)


@SETTINGS
@given(sections(), budgets)
def test_kept_units_keep_their_order_and_roles(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    originals = {s.name: s for s in parts}
    for section in kept(fitted):
        original = originals[section.name]
        assert is_subsequence(section.units, original.units)
        if original.roles:
            pairs = list(zip(original.units, original.roles, strict=True))
            assert is_subsequence(list(zip(section.units, section.roles, strict=True)), pairs)  # type: ignore[arg-type]


@SETTINGS
@given(sections(), budgets)
def test_history_loses_its_oldest_turns_first(parts: list[Section], budget: int) -> None:
    fitted = fit(parts, budget, cost)
    original = next((s for s in parts if s.kind == "history"), None)
    if fitted.history is not None and original is not None:
        # What is kept is the most recent stretch of the conversation, with no gap in it.
        assert fitted.history.units == original.units[len(original.units) - len(fitted.history.units) :]


@SETTINGS
@given(sections(), budgets)
def test_fitting_again_keeps_everything_that_was_kept(parts: list[Section], budget: int) -> None:
    once = fit(parts, budget, cost)
    again = fit(kept(once), budget, cost)
    assert [(s.name, s.units) for s in kept(again)] == [(s.name, s.units) for s in kept(once)]
    assert again.dropped_units == 0 and again.used_tokens == once.used_tokens


@SETTINGS
@given(sections(), budgets, st.text(max_size=200))
def test_messages_are_one_system_message_then_history_then_the_turn_verbatim(
    parts: list[Section], budget: int, turn: str
) -> None:
    fitted = fit(parts, budget, cost)
    messages = to_messages(fitted, turn)
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": turn}
    history = fitted.history.units if fitted.history is not None else []
    assert [m["content"] for m in messages[1:-1]] == history
    assert all(m["role"] != "system" for m in messages[1:])
    system = messages[0]["content"]
    assert all(u.strip() in system for s in fitted.system for u in s.units)
