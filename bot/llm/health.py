"""The language models' part of `/healthz`: a model skipped for a 429 or an open circuit is a degradation
that operators should see, even though the fallback chain (or a notice to the person) covers for it."""

from __future__ import annotations

from bot.llm.stats import RouterSnapshot
from storage.health import Status, TierHealth


def llm_health(snapshot: RouterSnapshot) -> TierHealth:
    """Return ok when every model of the chain is proven and would be tried now, else degraded naming the
    rest. A circuit whose cool-down has ended still counts as degraded until its probe succeeds: the model
    has not answered since it failed, and a probe stuck on a hung connection re-opens it."""
    skipped = []
    recovering = []
    for model in snapshot.models:
        if model.available and model.state == "closed":
            continue
        if model.rate_limited_for_s > 0:
            skipped.append(f"{model.name} rate limited for {model.rate_limited_for_s:.0f}s")
        elif model.available:
            recovering.append(f"{model.name} circuit {model.state}, the next call probes it")
        else:
            skipped.append(f"{model.name} circuit {model.state}, retry in {model.retry_in_s:.0f}s")
    usable = len(snapshot.models) - len(skipped)
    if not skipped and not recovering:
        return TierHealth("llm", "openai", Status.OK, detail=f"{usable} models usable")
    detail = "; ".join(skipped + recovering)
    if usable == 0:
        detail += "; no model usable: people get a notice instead of a reply"
    return TierHealth("llm", "openai", Status.DEGRADED, detail=detail)
