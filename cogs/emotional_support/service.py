"""Emotional support, without Discord: consent, choosing an approach per turn, and learning from outcomes.

The Discord cog, the console commands and the context provider all call this one service.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.config import SupportSettings
from bot.emotion import EmotionReading, detect
from bot.errors import KindredError
from bot.pipeline.message import TurnInput
from cogs.emotional_support import learning
from cogs.emotional_support.chart import render_mood
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import utcnow
from storage.support import StrategyStats, SupportState, SupportUnavailable

log = logging.getLogger(__name__)

# Selections made by the context provider wait here for the after-turn hook, at most this many.
MAX_WAITING = 1000
# The usual mood is mentioned once this many readings back it.
USUAL_AFTER = 3
NOT_OPTED_IN = (
    "You haven't opted in to emotional support, so I keep nothing about how you feel. "
    "`/support optin` turns it on."
)

OPTED_IN = (
    "Emotional support is on: I'll notice how you feel and learn which kind of support helps you. "
    "`/support show` lists what I keep, `/support optout` stops it."
)
OPTED_OUT = (
    "Emotional support is off: I won't keep anything new about how you feel. "
    "What I kept stays until `/support reset`."
)
RESET = "Deleted everything I kept about how you feel and what helps you. Emotional support is off."
RESET_QUESTION = (
    "This deletes everything I keep about how you feel and what helps you (`/support show` lists it) "
    "and turns emotional support off. Delete it all?"
)


def style_text(strategy: str | None) -> str:
    """Return the reply to /support style."""
    if strategy is None:
        return "Cleared your preferred style; I'll go by what has helped you."
    return f"Noted: when you're low I'll go for {strategy} first."


def feedback_text(strategy: str, score: float, helped: bool) -> str:
    """Return the reply to /support feedback."""
    verdict = "helped" if helped else "didn't help"
    return (
        f"Thanks for telling me {strategy} {verdict}. Its effectiveness for you is now {score:.2f} (0 to 1)."
    )


class SupportError(KindredError):
    """A /support request that cannot be done, with text to show the person."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What the provider decided for one turn, handed to the after-turn hook."""

    consented: bool
    reading: EmotionReading | None = None  # None unless they consented: nothing is read otherwise
    choice: learning.Choice | None = None
    usual: float | None = None  # the person's usual valence, once a few readings back it


class SupportService:
    """Per-person emotional support: consent, the approach for each turn, and learning what helps."""

    def __init__(
        self,
        storage: StorageService,
        settings: SupportSettings,
        *,
        detector: Callable[[str], EmotionReading] = detect,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.storage = storage
        self.store = storage.support
        self.settings = settings
        self.detect = detector
        self.clock = clock
        self._waiting: OrderedDict[str, Selection] = OrderedDict()

    # ------------------------------------------------------------------ consent

    def default_consent(self, scope: Scope) -> bool:
        """Return whether people here are opted in until they choose (a guild may differ from the default)."""
        if scope.guild_id is None:
            return self.settings.default_opt_in
        return self.settings.guild_opt_in.get(scope.guild_id, self.settings.default_opt_in)

    def consents(self, state: SupportState, scope: Scope) -> bool:
        """Return whether the person's emotional state may be kept and used here."""
        return state.opted_in if state.opted_in is not None else self.default_consent(scope)

    async def set_consent(self, scope: Scope, opted_in: bool) -> None:
        """Record the person's choice to opt in or out."""

        def choose(state: SupportState) -> None:
            state.opted_in = opted_in

        await self._update(scope, choose)

    async def set_style(self, scope: Scope, strategy: str | None) -> None:
        """Set (or with None clear) the approach the person prefers."""
        if strategy is not None and strategy not in learning.STRATEGIES:
            raise SupportError(
                f"Unknown style {strategy!r}; choose one of: {', '.join(learning.STRATEGIES)}."
            )

        def prefer(state: SupportState) -> None:
            state.preferred = strategy

        await self._update(scope, prefer)

    async def reset(self, scope: Scope) -> None:
        """Delete everything kept about the person's emotional support."""
        await self.store.reset(scope)

    # ------------------------------------------------------------------ each turn

    async def select(self, turn: TurnInput) -> Selection:
        """Read the turn's emotion and pick an approach when the person opted in and feels low."""
        selection = self._selection(await self.store.load(turn.scope), turn)
        self._waiting[_key(turn.scope, turn.message_id)] = selection
        while len(self._waiting) > MAX_WAITING:
            self._waiting.popitem(last=False)
        return selection

    def _selection(self, state: SupportState, turn: TurnInput) -> Selection:
        # A crisis turn is the crisis protocol's alone: no learned approach (humour, distraction...) is
        # suggested, and the message is neither read for the profile nor used to judge an approach.
        if turn.crisis or not self.consents(state, turn.scope):
            return Selection(False)
        reading = self.detect(turn.text)
        choice = None
        if reading.valence <= self.settings.low_valence:
            choice = learning.choose(state, reading.emotion)
        usual = state.baseline_valence if len(state.recent) >= USUAL_AFTER else None
        return Selection(True, reading, choice, usual)

    async def after_turn(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """Record the turn's emotion, judge the last approach by the mood now, and note this one's."""
        scope = turn.scope
        selection = self._waiting.pop(_key(scope, turn.message_id), None)
        if selection is None:  # the reply failed before its prompt was built: no approach reached the model
            selection = replace(self._selection(await self.store.load(scope), turn), choice=None)
        reading = selection.reading
        if reading is None:
            return
        now = self.clock()
        pending = await self.store.pending_intervention(scope)
        judged = (
            pending is not None
            and pending.get("strategy") in learning.STRATEGIES
            and str(pending.get("message_id")) not in turn.message_ids
            and now - datetime.fromisoformat(str(pending["at"]))
            <= timedelta(seconds=self.settings.followup_s)
        )
        used = (
            selection.choice.strategy if selection.choice is not None and reply_turn_id is not None else None
        )

        def record(state: SupportState) -> None:
            learning.apply_reading(
                state, reading, now, alpha=self.settings.baseline_alpha, keep_days=self.settings.mood_days
            )
            if judged and pending is not None:
                outcome = learning.mood_outcome(float(pending["valence"]), reading.valence)
                self._observe(
                    state, str(pending["strategy"]), outcome, self.settings.mood_weight, "mood", now
                )
            if used is not None:
                stats = state.strategies.get(used, StrategyStats())
                state.strategies[used] = StrategyStats(stats.successes, stats.failures, stats.uses + 1, now)

        try:
            await self.store.update(scope, record)
        except SupportUnavailable:
            log.warning("support: SQL unreachable and no state held for a person; reading not kept")
            return
        if used is not None:
            data = {
                "strategy": used,
                "valence": reading.valence,
                "message_id": turn.message_id,
                "at": now.isoformat(),
            }
            ttl = self.settings.intervention_ttl_s
            await self.store.remember_intervention(scope, [*turn.message_ids, "last"], data, ttl)
            await self.store.set_pending(scope, data, self.settings.followup_s)
        elif judged:
            await self.store.clear_pending(scope)

    # ------------------------------------------------------------------ explicit outcomes

    async def react(self, scope: Scope, replied_message_id: str, emoji: str) -> str | None:
        """Count a reaction on Kindred's reply to one of the person's messages; return the strategy judged."""
        outcome = learning.reaction_outcome(emoji)
        if outcome is None:
            return None
        intervention = await self.store.intervention(scope, replied_message_id)
        if intervention is None or intervention.get("strategy") not in learning.STRATEGIES:
            return None
        state = await self.store.load(scope)
        if not self.consents(state, scope):
            return None
        if not await self.store.first_reaction(scope, replied_message_id, self.settings.intervention_ttl_s):
            return None  # one reaction per reply counts, however many the person adds
        name = str(intervention["strategy"])
        now = self.clock()
        await self._update(
            scope,
            lambda s: self._observe(s, name, outcome, self.settings.reaction_weight, "reaction", now),
        )
        return name

    async def feedback(self, scope: Scope, helped: bool, strategy: str | None = None) -> tuple[str, float]:
        """Count the person's word on the last approach (or the one named); return it and its new score."""
        if strategy is not None and strategy not in learning.STRATEGIES:
            raise SupportError(
                f"Unknown approach {strategy!r}; choose one of: {', '.join(learning.STRATEGIES)}."
            )
        state = await self.store.load(scope)
        if not state.loaded:
            raise SupportError(str(SupportUnavailable()))
        if not self.consents(state, scope):
            raise SupportError(NOT_OPTED_IN)
        if strategy is None:
            last = await self.store.intervention(scope, "last")
            if last is None or last.get("strategy") not in learning.STRATEGIES:
                raise SupportError(
                    "I haven't used a support approach with you recently; name the one you mean, e.g. "
                    "`/support feedback helped strategy:listening`."
                )
            strategy = str(last["strategy"])
        name = strategy
        now = self.clock()
        outcome = 1.0 if helped else 0.0
        updated = await self._update(
            scope, lambda s: self._observe(s, name, outcome, self.settings.feedback_weight, "feedback", now)
        )
        return name, updated.strategies[name].score

    # ------------------------------------------------------------------ what is kept

    async def state(self, scope: Scope) -> SupportState:
        """Return the person's state (from memory if SQL is down)."""
        return await self.store.load(scope)

    async def show(self, scope: Scope) -> str:
        """Return, in plain words, everything kept about the person's emotional support."""
        state = await self.store.load(scope)
        if not state.loaded:
            raise SupportError(str(SupportUnavailable()))
        consented = self.consents(state, scope)
        if state.opted_in is None:
            source = "the default here" + (" (you can opt out)" if consented else "")
            lines = [f"Emotional support: {'on' if consented else 'off'}, {source}."]
        else:
            lines = [f"Emotional support: {'on' if consented else 'off'} (your choice)."]
        lines.append(f"Preferred style: {state.preferred or 'none (I learn what helps)'}.")
        if state.last_emotion is not None and state.last_at is not None:
            lines.append(
                f"Last reading: {state.last_emotion} (valence {state.last_valence or 0:+.2f}) "
                f"on {state.last_at:%Y-%m-%d %H:%M} UTC."
            )
        if state.baseline_valence is not None:
            lines.append(f"Usual mood (moving average of valence): {state.baseline_valence:+.2f}.")
        if state.days:
            lines.append(f"Mood kept for {len(state.days)} day(s) (per-day sums for /mood).")
        if state.strategies:
            lines.append("Approaches (effectiveness from 0 to 1, times used):")
            for name in learning.STRATEGIES:
                stats = state.strategies.get(name)
                if stats is not None:
                    lines.append(f"  {name}: {stats.score:.2f}, used {stats.uses}x")
        history = await self.store.history(scope, limit=5)
        if history:
            lines.append("Recent changes:")
            lines += [
                f"  {h.at:%Y-%m-%d} {h.strategy} {h.old_score:.2f} -> {h.new_score:.2f} ({h.cause})"
                for h in history
            ]
        if not (state.strategies or state.days or state.last_emotion):
            lines.append("Nothing else is kept about how you feel.")
        lines.append("`/support reset` deletes all of it.")
        return "\n".join(lines)

    async def mood_chart(self, scope: Scope, days: int) -> bytes:
        """Return the person's mood over the last ``days`` days as a PNG."""
        if days not in (7, 30):
            raise SupportError("Choose 7 or 30 days.")
        state = await self.store.load(scope)
        if not state.loaded:
            raise SupportError(str(SupportUnavailable()))
        if not self.consents(state, scope) and not state.days:
            raise SupportError(NOT_OPTED_IN)
        return render_mood(state.days, days, self.clock().date())

    # ------------------------------------------------------------------ internals

    async def _update(self, scope: Scope, change: Callable[[SupportState], None]) -> SupportState:
        try:
            return await self.store.update(scope, change)
        except SupportUnavailable as exc:
            raise SupportError(str(exc)) from exc

    def _observe(
        self, state: SupportState, name: str, outcome: float, weight: float, cause: str, at: datetime
    ) -> None:
        stats = state.strategies.get(name, StrategyStats())
        state.adjust(name, learning.observe(stats, outcome, weight, self.settings.max_evidence), cause, at)


def _key(scope: Scope, message_id: str) -> str:
    return f"{scope.user_key}:{message_id}"
