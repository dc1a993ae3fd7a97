"""Delivery of replies: Discord-sized chunks that keep code blocks whole, and mentions that cannot ping."""

from bot.delivery.split import DISCORD_LIMIT, neutralize_mentions, split_message

__all__ = ["DISCORD_LIMIT", "neutralize_mentions", "split_message"]
