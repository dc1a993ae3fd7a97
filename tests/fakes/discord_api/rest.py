"""The fake REST API: the routes discord.py calls, with Discord's status codes and error bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_api.models import (
    JSON,
    ChannelType,
    FakeChannel,
    FakeGuild,
    InteractionRecord,
    MessageFlag,
    Perm,
    RecordedFile,
    StoredMessage,
    iso_now,
)
from tests.fakes.discord_api.world import emoji_key

if TYPE_CHECKING:
    from tests.fakes.discord_api.server import FakeDiscord

MAX_CONTENT = 2000
MAX_EMBEDS = 10


class DiscordError(Exception):
    """An error the fake answers with Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        """Return the error object Discord sends."""
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def not_found(what: str, code: int) -> DiscordError:
    """Return the 404 for an unknown thing (Unknown Channel, Unknown Message, ...)."""
    return DiscordError(404, code, f"Unknown {what}")


def form_error(field: str, code: str, message: str) -> DiscordError:
    """Return a 400 Invalid Form Body naming one field."""
    return DiscordError(
        400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}}
    )


MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


@dataclass
class ApiRequest:
    """A parsed REST request."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]


Handler = Callable[..., Awaitable[Any]]


def json_response(data: Any, status: int = 200) -> web.Response:
    """Return JSON with the exact Content-Type discord.py checks for (no charset suffix)."""
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json")


class NoContent:
    """Marker a handler returns for a 204."""


class RestApi:
    """Route table and handlers; every call is recorded on the FakeDiscord before it is answered."""

    # Interaction and webhook-token routes authenticate with the token in the path, not the bot token.
    _TOKEN_ROUTES = re.compile(r"^/(interactions/\d+/[^/]+/callback|webhooks/\d+/[^/]+(/.*)?)$")

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        add = self._add
        add("GET", r"/gateway", self.get_gateway)
        add("GET", r"/gateway/bot", self.get_gateway_bot)
        add("GET", r"/users/@me", self.get_me)
        add("GET", r"/users/(?P<user_id>\d+)", self.get_user)
        add("POST", r"/users/@me/channels", self.create_dm)
        add("GET", r"/(oauth2/)?applications/@me", self.get_application)
        for prefix in (
            r"/applications/(?P<app_id>\d+)",
            r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)",
        ):
            add("GET", prefix + r"/commands", self.list_commands)
            add("PUT", prefix + r"/commands", self.bulk_commands)
            add("POST", prefix + r"/commands", self.upsert_command)
            add("GET", prefix + r"/commands/(?P<command_id>\d+)", self.get_command)
            add("PATCH", prefix + r"/commands/(?P<command_id>\d+)", self.edit_command)
            add("DELETE", prefix + r"/commands/(?P<command_id>\d+)", self.delete_command)
        add("GET", r"/guilds/(?P<guild_id>\d+)", self.get_guild)
        add("GET", r"/guilds/(?P<guild_id>\d+)/channels", self.get_guild_channels)
        add("GET", r"/guilds/(?P<guild_id>\d+)/roles", self.get_roles)
        add("GET", r"/guilds/(?P<guild_id>\d+)/members", self.list_members)
        add("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self.get_member)
        add("GET", r"/channels/(?P<channel_id>\d+)", self.get_channel)
        add("GET", r"/channels/(?P<channel_id>\d+)/messages", self.history)
        add("POST", r"/channels/(?P<channel_id>\d+)/messages", self.create_message)
        add("GET", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", self.get_message)
        add("PATCH", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", self.edit_message)
        add("DELETE", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", self.delete_message)
        add("POST", r"/channels/(?P<channel_id>\d+)/typing", self.typing)
        reaction = (
            r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/reactions/(?P<emoji>[^/]+)/@me"
        )
        add("PUT", reaction, self.add_reaction)
        add("DELETE", reaction, self.remove_reaction)
        add("POST", r"/channels/(?P<channel_id>\d+)/threads", self.create_thread)
        add("POST", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/threads", self.create_thread)
        add(
            "POST",
            r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
            self.interaction_callback,
        )
        add("POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", self.webhook_execute)
        hook_msg = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>\d+|@original)"
        add("GET", hook_msg, self.webhook_get_message)
        add("PATCH", hook_msg, self.webhook_edit_message)
        add("DELETE", hook_msg, self.webhook_delete_message)

    def _add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    # ------------------------------------------------------------------ plumbing

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        """Parse, record, authenticate, route and answer one REST request."""
        api = await _parse(request, path)
        record = self.fake._record(api)
        try:
            response = await self._answer(request, api)
        except DiscordError as exc:
            response = json_response(exc.body(), status=exc.status)
        record.status = response.status
        self.fake._changed()
        return response

    async def _answer(self, request: web.Request, api: ApiRequest) -> web.StreamResponse:
        if not self._TOKEN_ROUTES.match(api.path) and request.headers.get("Authorization") != (
            f"Bot {self.fake.token}"
        ):
            raise DiscordError(401, 0, "401: Unauthorized")
        fault = self.fake._take_fault(api.method, api.path)
        if fault is not None:
            response = json_response(fault.body, status=fault.status)
            response.headers.update(fault.headers)
            return response
        result = await self._route(api)
        if isinstance(result, NoContent):
            return web.Response(status=204)
        if isinstance(result, tuple):
            return json_response(result[1], status=result[0])
        return json_response(result)

    async def _route(self, api: ApiRequest) -> Any:
        method_matched = False
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(api.path)
            if match is None:
                continue
            method_matched = True
            if method == api.method:
                return await handler(api, **match.groupdict())
        if method_matched:
            raise DiscordError(405, 0, "405: Method Not Allowed")
        raise DiscordError(404, 0, "404: Not Found")

    def _channel(self, channel_id: str | int) -> FakeChannel:
        channel = self.world.channels.get(int(channel_id))
        if channel is None:
            raise not_found("Channel", 10003)
        return channel

    def _guild(self, guild_id: str | int) -> FakeGuild:
        guild = self.world.guilds.get(int(guild_id))
        if guild is None:
            raise not_found("Guild", 10004)
        return guild

    def _message(self, channel: FakeChannel, message_id: str | int) -> StoredMessage:
        message = self.world.messages.get(int(message_id))
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral:
            raise not_found("Message", 10008)
        return message

    def _require(self, channel: FakeChannel, *bits: int) -> None:
        if channel.type == ChannelType.DM:
            return
        perms = self.world.permissions_in(self.world.bot.id, channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        for bit in bits:
            if not perms & bit:
                raise DiscordError(*MISSING_PERMISSIONS)

    def _require_send(self, channel: FakeChannel) -> None:
        if channel.type == ChannelType.DM:
            recipient = self.world.users[channel.recipient_id or 0]
            if not recipient.accepts_dms:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
            return
        self._require(channel, Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES)

    def _app(self, app_id: str) -> None:
        if int(app_id) != self.world.application_id:
            raise not_found("Application", 10002)

    # ------------------------------------------------------------------ gateway, users, application

    async def get_gateway(self, api: ApiRequest) -> JSON:
        return {"url": self.fake.gateway_url}

    async def get_gateway_bot(self, api: ApiRequest) -> JSON:
        return {
            "url": self.fake.gateway_url,
            "shards": self.fake.recommended_shards,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    async def get_me(self, api: ApiRequest) -> JSON:
        data = self.world.bot.payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return data

    async def get_user(self, api: ApiRequest, user_id: str) -> JSON:
        user = self.world.users.get(int(user_id))
        if user is None:
            raise not_found("User", 10013)
        return user.payload()

    async def create_dm(self, api: ApiRequest) -> JSON:
        recipient = self.world.users.get(int((api.json or {}).get("recipient_id", 0)))
        if recipient is None:
            raise form_error("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
        return self.world.channel_payload(self.world.dm_channel(recipient))

    async def get_application(self, api: ApiRequest) -> JSON:
        return {
            "id": str(self.world.application_id),
            "name": self.world.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.fake.gateway.application_flags(),
            "owner": self.world.owner.payload(),
            "team": None,
            "bot": self.world.bot.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.world.guilds),
            "integration_types_config": {"0": {}},
        }

    # ------------------------------------------------------------------ application commands

    def _scope(self, guild_id: str | None) -> int | None:
        if guild_id is None:
            return None
        return self._guild(guild_id).id

    def _store_command(self, body: JSON, guild_id: int | None, existing: JSON | None) -> JSON:
        if not body.get("name"):
            raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
        command_type = int(body.get("type", 1))
        if command_type == 1 and not body.get("description"):
            raise form_error("description", "BASE_TYPE_REQUIRED", "This field is required")
        command = {
            **body,
            "id": existing["id"] if existing else str(self.world.ids.next()),
            "application_id": str(self.world.application_id),
            "version": str(self.world.ids.next()),
            "type": command_type,
            "description": body.get("description", ""),
            "default_member_permissions": body.get("default_member_permissions"),
            "nsfw": bool(body.get("nsfw", False)),
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        self.fake.commands[int(command["id"])] = command
        return command

    def _commands_in(self, guild_id: int | None) -> list[JSON]:
        return [c for c in self.fake.commands.values() if _opt_int(c.get("guild_id")) == guild_id]

    def _find_same(self, body: JSON, guild_id: int | None) -> JSON | None:
        kind = int(body.get("type", 1))
        for command in self._commands_in(guild_id):
            if command["name"] == body.get("name") and int(command["type"]) == kind:
                return command
        return None

    async def list_commands(self, api: ApiRequest, app_id: str, guild_id: str | None = None) -> list[JSON]:
        self._app(app_id)
        return self._commands_in(self._scope(guild_id))

    async def bulk_commands(self, api: ApiRequest, app_id: str, guild_id: str | None = None) -> list[JSON]:
        self._app(app_id)
        scope = self._scope(guild_id)
        if not isinstance(api.json, list):
            raise form_error("_root", "LIST_TYPE_CONVERT", "Must be an array.")
        kept: list[JSON] = []
        for body in api.json:
            kept.append(self._store_command(body, scope, self._find_same(body, scope)))
        kept_ids = {c["id"] for c in kept}
        for command in self._commands_in(scope):
            if command["id"] not in kept_ids:
                del self.fake.commands[int(command["id"])]
        return kept

    async def upsert_command(self, api: ApiRequest, app_id: str, guild_id: str | None = None) -> Any:
        self._app(app_id)
        scope = self._scope(guild_id)
        existing = self._find_same(api.json or {}, scope)
        command = self._store_command(api.json or {}, scope, existing)
        return command if existing else (201, command)

    def _command(self, command_id: str, guild_id: str | None) -> JSON:
        command = self.fake.commands.get(int(command_id))
        if command is None or _opt_int(command.get("guild_id")) != _opt_int(guild_id):
            raise not_found("application command", 10063)
        return command

    async def get_command(
        self, api: ApiRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> JSON:
        self._app(app_id)
        return self._command(command_id, guild_id)

    async def edit_command(
        self, api: ApiRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> JSON:
        self._app(app_id)
        current = self._command(command_id, guild_id)
        return self._store_command({**current, **(api.json or {})}, self._scope(guild_id), current)

    async def delete_command(
        self, api: ApiRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> NoContent:
        self._app(app_id)
        self._command(command_id, guild_id)
        del self.fake.commands[int(command_id)]
        return NoContent()

    # ------------------------------------------------------------------ guilds

    async def get_guild(self, api: ApiRequest, guild_id: str) -> JSON:
        guild = self._guild(guild_id)
        data = self.world.guild_payload(guild)
        if api.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return data

    async def get_guild_channels(self, api: ApiRequest, guild_id: str) -> list[JSON]:
        guild = self._guild(guild_id)
        channels = [self.world.channels[c] for c in guild.channel_ids]
        return [self.world.channel_payload(c) for c in channels if not c.is_thread]

    async def get_roles(self, api: ApiRequest, guild_id: str) -> list[JSON]:
        return [r.payload() for r in self._guild(guild_id).roles.values()]

    async def list_members(self, api: ApiRequest, guild_id: str) -> list[JSON]:
        guild = self._guild(guild_id)
        after = int(api.query.get("after", 0))
        limit = int(api.query.get("limit", 1))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return [m.payload() for m in members[:limit]]

    async def get_member(self, api: ApiRequest, guild_id: str, user_id: str) -> JSON:
        member = self._guild(guild_id).members.get(int(user_id))
        if member is None:
            raise not_found("Member", 10007)
        return member.payload()

    # ------------------------------------------------------------------ channels and messages

    async def get_channel(self, api: ApiRequest, channel_id: str) -> JSON:
        channel = self._channel(channel_id)
        self._require(channel)
        return self.world.channel_payload(channel)

    async def history(self, api: ApiRequest, channel_id: str) -> list[JSON]:
        channel = self._channel(channel_id)
        self._require(channel, Perm.READ_MESSAGE_HISTORY)
        found = [m for m in self.world.messages_in(channel.id) if not m.ephemeral]
        if "before" in api.query:
            found = [m for m in found if m.id < int(api.query["before"])]
        if "after" in api.query:
            found = [m for m in found if m.id > int(api.query["after"])]
        limit = int(api.query.get("limit", 50))
        # Discord returns the newest first; with `after` it returns the oldest ones after that id.
        chosen = found[:limit] if "after" in api.query else found[-limit:]
        return [self.world.message_payload(m) for m in reversed(chosen)]

    async def create_message(self, api: ApiRequest, channel_id: str) -> JSON:
        channel = self._channel(channel_id)
        self._require_send(channel)
        body = dict(api.json or {})
        if api.files:
            self._require(channel, Perm.ATTACH_FILES)
        if body.get("message_reference") is not None:
            # Recorded request bodies stay as sent; the stored message gets Discord's normalised reference.
            body["message_reference"] = self._resolve_reference(body["message_reference"])
        reply = body.get("message_reference") is not None
        message = self.fake._bot_message(channel, body, api.files, message_type=19 if reply else 0)
        await self.fake._echo("MESSAGE_CREATE", message)
        return self.world.message_payload(message)

    def _resolve_reference(self, reference: JSON) -> JSON | None:
        ref_id = reference.get("message_id")
        target = self.world.messages.get(int(ref_id)) if ref_id is not None else None
        if target is None or target.deleted or target.ephemeral:
            if reference.get("fail_if_not_exists", True):
                raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            return None
        resolved: JSON = {"type": 0, "message_id": str(target.id), "channel_id": str(target.channel_id)}
        if target.guild_id is not None:
            resolved["guild_id"] = str(target.guild_id)
        return resolved

    async def get_message(self, api: ApiRequest, channel_id: str, message_id: str) -> JSON:
        channel = self._channel(channel_id)
        self._require(channel, Perm.READ_MESSAGE_HISTORY)
        return self.world.message_payload(self._message(channel, message_id))

    async def edit_message(self, api: ApiRequest, channel_id: str, message_id: str) -> JSON:
        channel = self._channel(channel_id)
        message = self._message(channel, message_id)
        if message.author.id != self.world.bot.id or message.webhook_id is not None:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self.fake._apply_edit(message, dict(api.json or {}), api.files)
        await self.fake._echo("MESSAGE_UPDATE", message)
        return self.world.message_payload(message)

    async def delete_message(self, api: ApiRequest, channel_id: str, message_id: str) -> NoContent:
        channel = self._channel(channel_id)
        message = self._message(channel, message_id)
        if message.author.id != self.world.bot.id:
            self._require(channel, Perm.MANAGE_MESSAGES)
        await self.fake._delete(message)
        return NoContent()

    async def typing(self, api: ApiRequest, channel_id: str) -> NoContent:
        self._require_send(self._channel(channel_id))
        return NoContent()

    async def add_reaction(self, api: ApiRequest, channel_id: str, message_id: str, emoji: str) -> NoContent:
        channel = self._channel(channel_id)
        self._require(channel, Perm.READ_MESSAGE_HISTORY, Perm.ADD_REACTIONS)
        message = self._message(channel, message_id)
        await self.fake._react(message, self.world.bot, emoji_key(emoji))
        return NoContent()

    async def remove_reaction(
        self, api: ApiRequest, channel_id: str, message_id: str, emoji: str
    ) -> NoContent:
        channel = self._channel(channel_id)
        message = self._message(channel, message_id)
        message.reactions.get(emoji_key(emoji), set()).discard(self.world.bot.id)
        return NoContent()

    async def create_thread(self, api: ApiRequest, channel_id: str, message_id: str | None = None) -> Any:
        parent = self._channel(channel_id)
        if parent.type != ChannelType.TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body = api.json or {}
        private = message_id is None and int(body.get("type", ChannelType.PRIVATE_THREAD)) == 12
        self._require(parent, Perm.CREATE_PRIVATE_THREADS if private else Perm.CREATE_PUBLIC_THREADS)
        if message_id is not None:
            self._message(parent, message_id)
        if not body.get("name"):
            raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
        thread = self.world.add_thread(parent, str(body["name"]), owner=self.world.bot, private=private)
        payload = self.world.channel_payload(thread)
        await self.fake.dispatch("THREAD_CREATE", {**payload, "newly_created": True})
        return (201, payload)

    # ------------------------------------------------------------------ interactions and webhooks

    def _interaction_by_token(self, app_id: str, token: str) -> InteractionRecord:
        record = self.fake._interactions_by_token.get(token)
        if int(app_id) != self.world.application_id or record is None:
            raise not_found("Webhook", 10015)
        return record

    async def interaction_callback(self, api: ApiRequest, interaction_id: str, token: str) -> Any:
        record = self.fake.interactions.get(int(interaction_id))
        if record is None or record.token != token:
            raise not_found("interaction", 10062)
        if record.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        body = dict(api.json or {})
        kind = int(body.get("type", 0))
        data = dict(body.get("data") or {})
        record.callbacks.append(body)
        message: StoredMessage | None = None
        channel = self.world.channels[record.channel_id]
        if kind == 4:
            message = self.fake._bot_message(channel, data, api.files, interaction=record)
        elif kind == 5:
            flags = MessageFlag.LOADING | (int(data.get("flags") or 0) & MessageFlag.EPHEMERAL)
            message = self.fake._bot_message(channel, {"flags": flags}, [], interaction=record)
        elif kind == 7:
            target = record.payload.get("message")
            if target is None:
                raise DiscordError(400, 40004, "Interaction is not for a message component")
            message = self.world.messages[int(target["id"])]
            self.fake._apply_edit(message, data, api.files)
            await self.fake._echo("MESSAGE_UPDATE", message)
        elif kind not in (1, 6, 8, 9, 10, 12):
            record.callbacks.pop()
            raise form_error(
                "type", "BASE_TYPE_CHOICES", f"Value must be one of a known callback type, got {kind}"
            )
        if message is not None and kind in (4, 5):
            record.original_message_id = message.id
            if kind == 4:
                await self.fake._echo("MESSAGE_CREATE", message)
        info: JSON = {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        result: JSON = {"interaction": info}
        if message is not None:
            info["response_message_id"] = str(message.id)
            result["resource"] = {"type": kind, "message": self.world.message_payload(message)}
        elif kind in (6, 8, 9, 10, 12):
            result["resource"] = {"type": kind}
        return result

    async def webhook_execute(self, api: ApiRequest, app_id: str, token: str) -> Any:
        record = self._interaction_by_token(app_id, token)
        if not record.callbacks:
            raise not_found("Webhook", 10015)
        body = dict(api.json or {})
        original = self.world.messages.get(record.original_message_id or 0)
        if original is not None and original.flags & MessageFlag.LOADING:
            # The first follow-up after a deferral fills in the "thinking" message; its ephemerality
            # was fixed by the deferral.
            body["flags"] = original.flags & MessageFlag.EPHEMERAL
            self.fake._apply_edit(original, body, api.files)
            message = original
            if not message.ephemeral:
                await self.fake._echo("MESSAGE_CREATE", message)
        else:
            channel = self.world.channels[record.channel_id]
            message = self.fake._bot_message(channel, body, api.files, interaction=record)
            if not message.ephemeral:
                await self.fake._echo("MESSAGE_CREATE", message)
        record.followup_ids.append(message.id)
        if api.query.get("wait") in ("true", "1", "True"):
            return self.world.message_payload(message)
        return NoContent()

    def _webhook_message(self, record: InteractionRecord, message_id: str) -> StoredMessage:
        wanted = record.original_message_id if message_id == "@original" else int(message_id)
        message = self.world.messages.get(wanted or 0)
        if message is None or message.deleted:
            raise not_found("Message", 10008)
        if wanted != record.original_message_id and wanted not in record.followup_ids:
            # A token may also edit the component message its interaction came from.
            source = record.payload.get("message") or {}
            if str(wanted) != source.get("id"):
                raise not_found("Message", 10008)
        return message

    async def webhook_get_message(self, api: ApiRequest, app_id: str, token: str, message_id: str) -> JSON:
        record = self._interaction_by_token(app_id, token)
        return self.world.message_payload(self._webhook_message(record, message_id))

    async def webhook_edit_message(self, api: ApiRequest, app_id: str, token: str, message_id: str) -> JSON:
        record = self._interaction_by_token(app_id, token)
        message = self._webhook_message(record, message_id)
        was_loading = bool(message.flags & MessageFlag.LOADING)
        self.fake._apply_edit(message, dict(api.json or {}), api.files)
        if not message.ephemeral:
            await self.fake._echo("MESSAGE_CREATE" if was_loading else "MESSAGE_UPDATE", message)
        return self.world.message_payload(message)

    async def webhook_delete_message(
        self, api: ApiRequest, app_id: str, token: str, message_id: str
    ) -> NoContent:
        record = self._interaction_by_token(app_id, token)
        await self.fake._delete(self._webhook_message(record, message_id))
        return NoContent()


async def _parse(request: web.Request, path: str) -> ApiRequest:
    body: Any = None
    files: list[RecordedFile] = []
    content_type = request.content_type
    if content_type == "application/json":
        raw = await request.read()
        body = json.loads(raw) if raw else None
    elif content_type == "multipart/form-data":
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files.append(RecordedFile(name, value.filename, value.content_type, value.file.read()))
            elif name == "payload_json":
                body = json.loads(str(value))
    return ApiRequest(request.method, path, dict(request.query), body, files)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


__all__ = ["ApiRequest", "DiscordError", "RestApi", "iso_now", "json_response"]
