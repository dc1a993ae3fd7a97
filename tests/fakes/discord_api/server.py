"""FakeDiscord: a local Discord (REST + gateway) that the real discord.py client talks to."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import secrets
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tests.fakes.discord_api.gateway import Gateway, ReceivedOp
from tests.fakes.discord_api.models import (
    JSON,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    InteractionRecord,
    MessageFlag,
    Perm,
    RecordedFile,
    RecordedRequest,
    StoredMessage,
    iso_now,
)
from tests.fakes.discord_api.rest import ApiRequest, DiscordError, RestApi, form_error, json_response
from tests.fakes.discord_api.world import World, emoji_key

if TYPE_CHECKING:
    import discord

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="discord.Client")

ChannelRef = FakeChannel | int
MessageRef = StoredMessage | int
Upload = tuple[str, bytes] | tuple[str, bytes, str]

_API_PATH = re.compile(r"^/api/v\d+(/.*)$")


@dataclass
class Scene:
    """The small default world the fixture builds: one guild, a channel, a thread, two users."""

    guild: FakeGuild
    general: FakeChannel
    thread: FakeChannel
    alice: FakeUser
    bob: FakeUser


@dataclass
class Fault:
    """A canned error answer for the next matching REST calls."""

    method: str
    path: re.Pattern[str]
    status: int
    body: JSON
    headers: dict[str, str]
    remaining: int


class _Notifier:
    """Wakes every waiter whenever the fake's state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T | None], limit: float) -> T:
        async with asyncio.timeout(limit):
            while True:
                # Take the event before checking, so a change between the check and the wait is not lost.
                event = self._event
                result = predicate()
                if result:
                    return result
                await event.wait()


class FakeDiscord:
    """A Discord API and gateway on 127.0.0.1 that records everything the bot does."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "Kindred",
        heartbeat_interval_ms: int = 41_250,
        echo_bot_messages: bool = True,
    ) -> None:
        self.token = token
        self.world = World(bot_name=bot_name)
        self.echo_bot_messages = echo_bot_messages
        self.recommended_shards = 1
        # Every wait_for_* gives up after this many seconds; running() waits ready_timeout for on_ready.
        self.wait_timeout = 5.0
        self.ready_timeout = 10.0
        self.requests: list[RecordedRequest] = []
        self.commands: dict[int, JSON] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._interactions_by_token: dict[str, InteractionRecord] = {}
        self._files: dict[str, tuple[bytes, str]] = {}
        self.faults: list[Fault] = []
        self._notifier = _Notifier()
        self.port = 0
        self.gateway = Gateway(
            self.world,
            token=token,
            ws_url=lambda path: f"ws://127.0.0.1:{self.port}{path}",
            notify=self._changed,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.rest = RestApi(self)
        self._runner: web.AppRunner | None = None
        self._scene: Scene | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/ws", self.gateway.handle)
        app.router.add_get("/ws/resume", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Close every gateway socket and stop serving."""
        await self.gateway.disconnect(1001, "Server shutting down.")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Return the base HTTP URL of the fake."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """Return what ``discord.http.Route.BASE`` must be."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Return the gateway websocket URL (without query)."""
        return f"ws://127.0.0.1:{self.port}/ws"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base, gateway and CDN at the fake; restore them afterwards."""
        # Imported here so that serving the fake never depends on the client it is testing.
        import discord.asset
        import discord.gateway
        import discord.http
        import yarl

        route, ws, asset = discord.http.Route, discord.gateway.DiscordWebSocket, discord.asset.Asset
        saved = (route.BASE, ws.DEFAULT_GATEWAY, asset.BASE)
        route.BASE = self.api_base
        ws.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        asset.BASE = f"{self.url}/cdn"
        try:
            yield
        finally:
            route.BASE, ws.DEFAULT_GATEWAY, asset.BASE = saved

    @contextlib.asynccontextmanager
    async def running(self, client: ClientT) -> AsyncIterator[ClientT]:
        """Run a discord.py client against the fake until ready; close it cleanly on exit."""
        limit = self.ready_timeout
        async with client:
            task = asyncio.create_task(client.start(self.token))
            ready = asyncio.create_task(client.wait_until_ready())
            done, _ = await asyncio.wait({task, ready}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            try:
                if ready not in done:
                    ready.cancel()
                    if task in done:
                        task.result()
                    raise TimeoutError(f"the client was not ready within {limit}s")
                yield client
            finally:
                await client.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ------------------------------------------------------------------ world building

    @property
    def bot(self) -> FakeUser:
        """Return the bot's user."""
        return self.world.bot

    @property
    def owner(self) -> FakeUser:
        """Return the application's owner (also the owner of every guild by default)."""
        return self.world.owner

    @property
    def application_id(self) -> int:
        """Return the application id."""
        return self.world.application_id

    def add_user(self, username: str, *, bot: bool = False, accepts_dms: bool = True) -> FakeUser:
        """Create a user."""
        return self.world.add_user(username, bot=bot, accepts_dms=accepts_dms)

    def add_guild(self, name: str, *, owner: FakeUser | None = None) -> FakeGuild:
        """Create a guild (with @everyone, its owner and the bot as members)."""
        return self.world.add_guild(name, owner=owner)

    def add_role(self, guild: FakeGuild, name: str, *, permissions: int = 0) -> FakeRole:
        """Create a role."""
        return self.world.add_role(guild, name, permissions=permissions)

    def add_member(
        self, guild: FakeGuild, user: FakeUser, *, roles: list[FakeRole] | None = None
    ) -> FakeMember:
        """Add a user to a guild."""
        return self.world.add_member(guild, user, roles=roles)

    def add_text_channel(self, guild: FakeGuild, name: str, *, topic: str | None = None) -> FakeChannel:
        """Create a text channel."""
        return self.world.add_text_channel(guild, name, topic=topic)

    def add_thread(self, parent: FakeChannel, name: str, *, private: bool = False) -> FakeChannel:
        """Create a thread under a text channel."""
        return self.world.add_thread(parent, name, private=private)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """Return (creating if needed) the DM channel between the bot and a user."""
        return self.world.dm_channel(user)

    def set_overwrite(
        self, channel: FakeChannel, target: FakeRole | FakeMember | FakeUser, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set a channel permission overwrite for a role or member (use ``Perm`` bits)."""
        self.world.set_overwrite(channel, target, allow=allow, deny=deny)

    def deny_send(self, channel: FakeChannel, target: FakeRole | FakeMember | FakeUser | None = None) -> None:
        """Deny Send Messages in a channel to a target (the bot by default)."""
        self.set_overwrite(
            channel, target or self.bot, deny=Perm.SEND_MESSAGES | Perm.SEND_MESSAGES_IN_THREADS
        )

    def populate(self) -> Scene:
        """Build the default scene: guild "Kindred Test", #general, a thread, users alice and bob."""
        guild = self.add_guild("Kindred Test")
        general = self.add_text_channel(guild, "general")
        thread = self.add_thread(general, "general-thread")
        alice, bob = self.add_user("alice"), self.add_user("bob")
        self.add_member(guild, alice)
        self.add_member(guild, bob)
        self._scene = Scene(guild=guild, general=general, thread=thread, alice=alice, bob=bob)
        return self._scene

    @property
    def scene(self) -> Scene:
        """Return the default scene built by ``populate()``."""
        if self._scene is None:
            raise RuntimeError("call populate() first (the fake_discord fixture does)")
        return self._scene

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 500,
        code: int = 0,
        message: str = "500: Internal Server Error",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls matching method and path regex with an error.

        discord.py retries 500/502/504 itself (sleeping 1 s, 3 s, ...), so prefer 4xx or 503 in fast tests.
        """
        body = {"message": message, "code": code}
        self.faults.append(Fault(method, re.compile(path), status, body, {}, times))

    def rate_limit_next(self, method: str, path: str, *, retry_after: float = 0.01, times: int = 1) -> None:
        """Answer the next ``times`` matching calls with a 429 that discord.py waits out and retries."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
            "code": 0,
        }
        # discord.py treats a 429 without a Via header as a Cloudflare ban and gives up.
        headers = {"Via": "1.1 google", "X-RateLimit-Scope": "user"}
        self.faults.append(Fault(method, re.compile(path), 429, body, headers, times))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.method == method and fault.path.fullmatch(path):
                fault.remaining -= 1
                return fault
        return None

    # ------------------------------------------------------------------ gateway control

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a gateway dispatch to the connected bot; return how many sessions received it."""
        return await self.gateway.dispatch(event, data)

    async def disconnect(self, code: int = 4000, reason: str = "") -> int:
        """Drop every gateway socket with a close code (4000 resumes; 4004/4014 are fatal)."""
        return await self.gateway.disconnect(code, reason)

    async def request_reconnect(self) -> None:
        """Ask the client to reconnect and resume (op 7)."""
        await self.gateway.request_reconnect()

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Invalidate the gateway sessions (op 9)."""
        await self.gateway.invalidate_sessions(resumable=resumable)

    def gateway_ops(self, name: str | None = None) -> list[ReceivedOp]:
        """Return what the client sent on the gateway (IDENTIFY, RESUME, HEARTBEAT, ...)."""
        return self.gateway.ops(name)

    # ------------------------------------------------------------------ users acting

    async def send_message(
        self,
        channel: ChannelRef,
        author: FakeUser,
        content: str = "",
        *,
        mentions: Sequence[FakeUser] = (),
        referenced_message: MessageRef | None = None,
        attachments: Sequence[Upload] = (),
        embeds: Sequence[JSON] = (),
    ) -> StoredMessage:
        """Post a message as a user and dispatch MESSAGE_CREATE; mentions in the content are resolved."""
        ch = self._channel(channel)
        user_ids, role_ids, everyone = self.world.parse_mentions(content, ch.guild_id)
        reference: JSON | None = None
        replied_author: int | None = None
        if referenced_message is not None:
            target = self._message(referenced_message)
            reference = {"message_id": str(target.id), "channel_id": str(target.channel_id), "type": 0}
            if target.guild_id is not None:
                reference["guild_id"] = str(target.guild_id)
            replied_author = target.author.id
        pinged = [*user_ids, *(u.id for u in mentions)]
        if replied_author is not None:
            pinged.append(replied_author)
        message = self.world.new_message(
            ch,
            author,
            content,
            embeds=list(embeds),
            attachments=[self._store_file(ch, *upload) for upload in attachments],
            message_reference=reference,
            type=19 if reference else 0,
            mention_ids=list(dict.fromkeys(pinged)),
            mention_role_ids=role_ids,
            mention_everyone=everyone,
        )
        await self.dispatch("MESSAGE_CREATE", self.world.message_payload(message))
        self._changed()
        return message

    async def redeliver(self, message: MessageRef) -> int:
        """Dispatch MESSAGE_CREATE again for an existing message (a duplicate delivery)."""
        return await self.dispatch("MESSAGE_CREATE", self.world.message_payload(self._message(message)))

    async def add_reaction(self, message: MessageRef, user: FakeUser, emoji: str = "👍") -> None:
        """React to a message as a user and dispatch MESSAGE_REACTION_ADD."""
        await self._react(self._message(message), user, emoji_key(emoji))

    async def send_slash_command(
        self,
        channel: ChannelRef,
        user: FakeUser,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> InteractionRecord:
        """Invoke a registered slash command as a user (INTERACTION_CREATE type 2)."""
        ch = self._channel(channel)
        command = self._registered_command(name, ch.guild_id)
        option_defs: list[JSON] = list(command.get("options") or [])
        path: list[tuple[str, int]] = []
        if group is not None:
            path.append((group, 2))
            option_defs = _option_named(option_defs, group, 2).get("options") or []
        if subcommand is not None:
            path.append((subcommand, 1))
            option_defs = _option_named(option_defs, subcommand, 1).get("options") or []
        resolved: JSON = {}
        values = [
            self._option_value(ch, option_defs, key, value, resolved)
            for key, value in (options or {}).items()
        ]
        nested: list[JSON] = values
        for part_name, part_type in reversed(path):
            nested = [{"name": part_name, "type": part_type, "options": nested}]
        data: JSON = {"id": command["id"], "name": name, "type": 1, "options": nested}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id") is not None:
            data["guild_id"] = command["guild_id"]
        return await self._interact(2, ch, user, data)

    async def press_button(self, message: MessageRef, custom_id: str, user: FakeUser) -> InteractionRecord:
        """Press a button on a message (INTERACTION_CREATE type 3)."""
        target = self._message(message)
        component = _find_component(target.components, custom_id)
        data = {"custom_id": custom_id, "component_type": int(component.get("type", 2))}
        return await self._interact(3, self._channel(target.channel_id), user, data, message=target)

    async def choose(
        self, message: MessageRef, custom_id: str, values: Sequence[str], user: FakeUser
    ) -> InteractionRecord:
        """Pick values in a select menu on a message (INTERACTION_CREATE type 3)."""
        target = self._message(message)
        component = _find_component(target.components, custom_id)
        data = {
            "custom_id": custom_id,
            "component_type": int(component.get("type", 3)),
            "values": list(values),
        }
        return await self._interact(3, self._channel(target.channel_id), user, data, message=target)

    async def submit_modal(
        self, opened_by: InteractionRecord, user: FakeUser, values: dict[str, str]
    ) -> InteractionRecord:
        """Submit the modal the bot opened in answer to an interaction (INTERACTION_CREATE type 5)."""
        if opened_by.response_type != 9:
            raise LookupError("that interaction was not answered with a modal")
        modal = opened_by.response_data
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ]
        data = {"custom_id": modal["custom_id"], "components": rows}
        source = opened_by.payload.get("message")
        message = self.world.messages.get(int(source["id"])) if source else None
        return await self._interact(5, self._channel(opened_by.channel_id), user, data, message=message)

    # ------------------------------------------------------------------ queries

    def messages_in(self, channel: ChannelRef, *, include_deleted: bool = False) -> list[StoredMessage]:
        """Return every message in a channel, oldest first (users' and the bot's)."""
        return self.world.messages_in(self._channel(channel).id, include_deleted=include_deleted)

    def bot_messages_in(self, channel: ChannelRef) -> list[StoredMessage]:
        """Return the messages the bot posted in a channel (including interaction responses)."""
        return [m for m in self.messages_in(channel) if m.author.id == self.bot.id]

    def interaction_responses(
        self, interaction: InteractionRecord | int | None = None
    ) -> list[InteractionRecord]:
        """Return the interactions the bot has answered (or just the given one, if answered)."""
        records = list(self.interactions.values())
        if interaction is not None:
            wanted = interaction.id if isinstance(interaction, InteractionRecord) else interaction
            records = [r for r in records if r.id == wanted]
        return [r for r in records if r.callbacks]

    def original_response(self, interaction: InteractionRecord) -> StoredMessage | None:
        """Return the message an interaction's response created (the "original"), if any."""
        return self.world.messages.get(interaction.original_message_id or 0)

    def followups(self, interaction: InteractionRecord) -> list[StoredMessage]:
        """Return the follow-up messages sent for an interaction."""
        return [self.world.messages[i] for i in interaction.followup_ids]

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Return recorded REST calls, filtered by method and a regex the path must fully match."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or re.fullmatch(path, r.path))
        ]

    async def wait_for(self, predicate: Callable[[], T | None]) -> T:
        """Wait (up to ``wait_timeout``) until ``predicate()`` returns something truthy, and return it."""
        return await self._notifier.wait_for(predicate, self.wait_timeout)

    async def wait_for_message(
        self,
        channel: ChannelRef,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        from_bot: bool = True,
    ) -> StoredMessage:
        """Wait for a (by default bot-authored) message in a channel that satisfies the predicate."""
        ch = self._channel(channel)

        def find() -> StoredMessage | None:
            for message in self.world.messages_in(ch.id):
                if from_bot and message.author.id != self.bot.id:
                    continue
                if message.flags & MessageFlag.LOADING:
                    continue
                if predicate is None or predicate(message):
                    return message
            return None

        return await self.wait_for(find)

    async def wait_for_response(self, interaction: InteractionRecord) -> InteractionRecord:
        """Wait until the bot has answered an interaction (any callback type)."""
        return await self.wait_for(lambda: interaction if interaction.callbacks else None)

    async def wait_for_op(self, name: str, *, count: int = 1) -> list[ReceivedOp]:
        """Wait until the client has sent ``count`` gateway payloads of one op (e.g. "RESUME")."""
        return await self.wait_for(lambda: ops if len(ops := self.gateway_ops(name)) >= count else None)

    # ------------------------------------------------------------------ internals used by the REST side

    def _changed(self) -> None:
        self._notifier.notify()

    def _record(self, api: ApiRequest) -> RecordedRequest:
        record = RecordedRequest(api.method, api.path, api.query, api.json, api.files)
        self.requests.append(record)
        return record

    def _channel(self, channel: ChannelRef) -> FakeChannel:
        return channel if isinstance(channel, FakeChannel) else self.world.channels[int(channel)]

    def _message(self, message: MessageRef) -> StoredMessage:
        return message if isinstance(message, StoredMessage) else self.world.messages[int(message)]

    def _registered_command(self, name: str, guild_id: int | None) -> JSON:
        candidates = [c for c in self.commands.values() if c["name"] == name and int(c["type"]) == 1]
        for command in candidates:
            if guild_id is not None and command.get("guild_id") == str(guild_id):
                return command
        for command in candidates:
            if command.get("guild_id") is None:
                return command
        raise LookupError(f"no slash command {name!r} is registered here; did the bot sync its tree?")

    def _option_value(
        self, channel: FakeChannel, defs: list[JSON], key: str, value: Any, resolved: JSON
    ) -> JSON:
        definition = next((d for d in defs if d["name"] == key), None)
        if definition is None:
            raise LookupError(f"the command has no option {key!r}")
        kind = int(definition["type"])
        if kind == 6 and not isinstance(value, FakeUser) and int(value) not in self.world.users:
            value = str(value)  # an id Discord cannot resolve (forged or stale): sent without resolved data
        elif kind == 6:  # user
            user = value if isinstance(value, FakeUser) else self.world.users[int(value)]
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            guild = self.world.guild_of(channel)
            member = guild.members.get(user.id) if guild else None
            if member is not None:
                member_data = member.payload(with_user=False)
                member_data["permissions"] = str(self.world.permissions_in(user.id, channel))
                resolved.setdefault("members", {})[str(user.id)] = member_data
            value = str(user.id)
        elif kind == 7:  # channel
            target = self._channel(value)
            data = self.world.channel_payload(target)
            data["permissions"] = str(self.world.permissions_in(self.bot.id, target))
            resolved.setdefault("channels", {})[str(target.id)] = data
            value = str(target.id)
        elif kind == 8:  # role
            role = value if isinstance(value, FakeRole) else None
            if role is None:
                raise LookupError("pass a FakeRole for a role option")
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            value = str(role.id)
        elif kind == 11:  # attachment: value is (filename, bytes[, content type])
            attachment = self._store_file(channel, *value)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            value = attachment["id"]
        return {"name": key, "type": kind, "value": value}

    async def _interact(
        self,
        kind: int,
        channel: FakeChannel,
        user: FakeUser,
        data: JSON,
        *,
        message: StoredMessage | None = None,
    ) -> InteractionRecord:
        interaction_id = self.world.ids.next()
        token = secrets.token_urlsafe(32)
        guild = self.world.guild_of(channel)
        channel_data = self.world.channel_payload(channel)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel_data,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise LookupError(f"{user.username} is not a member of {guild.name}")
            member_data = member.payload()
            member_data["permissions"] = str(self.world.permissions_in(user.id, channel))
            channel_data["permissions"] = member_data["permissions"]
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member_data,
                app_permissions=str(self.world.permissions_in(self.bot.id, channel)),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(Perm.EVERYONE_DEFAULT),
                context=1,
                authorizing_integration_owners={"0": "0"},
            )
        if message is not None:
            payload["message"] = self.world.message_payload(message)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            channel_id=channel.id,
            guild_id=None if guild is None else guild.id,
            user=user,
            payload=payload,
        )
        self.interactions[interaction_id] = record
        self._interactions_by_token[token] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        self._changed()
        return record

    def _store_file(
        self, channel: FakeChannel, filename: str, data: bytes, content_type: str | None = None
    ) -> JSON:
        attachment_id = self.world.ids.next()
        path = f"/attachments/{channel.id}/{attachment_id}/{filename}"
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._files[path] = (data, ctype)
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": f"{self.url}{path}",
            "proxy_url": f"{self.url}{path}",
            "content_type": ctype,
        }

    def _attachments(
        self, channel: FakeChannel, body: JSON, files: list[RecordedFile], keep: list[JSON]
    ) -> list[JSON]:
        meta = {str(a.get("id")): a for a in body.get("attachments") or []}
        kept_ids = set(meta)
        result = [a for a in keep if a["id"] in kept_ids]
        for upload in files:
            index = upload.field.removeprefix("files[").removesuffix("]")
            attachment = self._store_file(channel, upload.filename, upload.data)
            description = meta.get(index, {}).get("description")
            if description is not None:
                attachment["description"] = description
            result.append(attachment)
        return result

    def _pings(
        self, channel: FakeChannel, content: str, allowed: JSON | None, reference: JSON | None
    ) -> tuple[list[int], list[int], bool]:
        users, roles, everyone = self.world.parse_mentions(content, channel.guild_id)
        if allowed is None:
            # With no allowed_mentions at all Discord pings everything in the content, and the replied user.
            replied_user = True
        else:
            parse = allowed.get("parse") or []
            if "users" not in parse:
                allowed_users = {str(u) for u in allowed.get("users") or []}
                users = [u for u in users if str(u) in allowed_users]
            if "roles" not in parse:
                allowed_roles = {str(r) for r in allowed.get("roles") or []}
                roles = [r for r in roles if str(r) in allowed_roles]
            everyone = everyone and "everyone" in parse
            replied_user = bool(allowed.get("replied_user", False))
        if replied_user and reference is not None:
            target = self.world.messages.get(int(reference.get("message_id") or 0))
            if target is not None and target.author.id not in users and target.author.id != self.bot.id:
                users.append(target.author.id)
        return users, roles, everyone

    def _validate(self, content: str, embeds: list[JSON]) -> None:
        if len(content) > 2000:
            raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if len(embeds) > 10:
            raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")

    def _bot_message(
        self,
        channel: FakeChannel,
        body: JSON,
        files: list[RecordedFile],
        *,
        message_type: int = 0,
        interaction: InteractionRecord | None = None,
    ) -> StoredMessage:
        content = str(body.get("content") or "")
        embeds = list(body.get("embeds") or [])
        components = list(body.get("components") or [])
        flags = int(body.get("flags") or 0)
        self._validate(content, embeds)
        attachments = self._attachments(channel, body, files, [])
        has_body = (
            content or embeds or components or attachments or body.get("sticker_ids") or body.get("poll")
        )
        if not has_body and not flags & MessageFlag.LOADING:
            raise DiscordError(400, 50006, "Cannot send an empty message")
        reference = body.get("message_reference")
        users, roles, everyone = self._pings(channel, content, body.get("allowed_mentions"), reference)
        metadata: JSON | None = None
        if interaction is not None:
            metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if interaction.type == 3 and interaction.payload.get("message"):
                metadata["interacted_message_id"] = interaction.payload["message"]["id"]
        return self.world.new_message(
            channel,
            self.bot,
            content,
            embeds=embeds,
            components=components,
            attachments=attachments,
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=reference,
            flags=flags,
            type=message_type if interaction is None else (20 if interaction.type == 2 else 0),
            webhook_id=None if interaction is None else self.application_id,
            interaction_metadata=metadata,
            mention_ids=users,
            mention_role_ids=roles,
            mention_everyone=everyone,
            tts=bool(body.get("tts", False)),
        )

    def _apply_edit(self, message: StoredMessage, body: JSON, files: list[RecordedFile]) -> None:
        channel = self.world.channels[message.channel_id]
        was_loading = bool(message.flags & MessageFlag.LOADING)
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        if "attachments" in body or files:
            message.attachments = self._attachments(channel, body, files, message.attachments)
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if body.get("flags") is not None:
            # Ephemerality is fixed when a message is created; other flags (e.g. suppress embeds) may change.
            message.flags = (message.flags & MessageFlag.EPHEMERAL) | (
                int(body["flags"]) & ~MessageFlag.EPHEMERAL
            )
        message.flags &= ~MessageFlag.LOADING
        self._validate(message.content, message.embeds)
        users, roles, everyone = self._pings(
            channel, message.content, message.allowed_mentions, message.message_reference
        )
        message.mention_ids, message.mention_role_ids, message.mention_everyone = users, roles, everyone
        if not was_loading:
            message.edited_timestamp = iso_now()
        message.edits.append(dict(body))

    async def _echo(self, event: str, message: StoredMessage) -> None:
        # Discord sends the bot its own messages too; a bot must not answer itself.
        if self.echo_bot_messages and not message.ephemeral:
            await self.dispatch(event, self.world.message_payload(message))

    async def _delete(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            await self.dispatch("MESSAGE_DELETE", data)

    async def _react(self, message: StoredMessage, user: FakeUser, key: str) -> None:
        message.reactions.setdefault(key, set()).add(user.id)
        name, _, emoji_id = key.partition(":")
        data: JSON = {
            "user_id": str(user.id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": {"id": emoji_id or None, "name": name},
            "message_author_id": str(message.author.id),
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            member = self.world.guilds[message.guild_id].members.get(user.id)
            if member is not None:
                data["member"] = member.payload()
        await self.dispatch("MESSAGE_REACTION_ADD", data)
        self._changed()

    # ------------------------------------------------------------------ non-API paths

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        api = _API_PATH.match(path)
        if api is not None:
            return await self.rest.handle(request, api.group(1))
        if path in self._files:
            data, ctype = self._files[path]
            return web.Response(body=data, content_type=ctype)
        if path.startswith("/cdn/"):
            return web.Response(body=_TINY_PNG, content_type="image/png")
        return json_response({"message": "404: Not Found", "code": 0}, status=404)


def _option_named(defs: list[JSON], name: str, kind: int) -> JSON:
    for definition in defs:
        if definition["name"] == name and int(definition["type"]) == kind:
            return definition
    raise LookupError(f"the command has no {'group' if kind == 2 else 'subcommand'} {name!r}")


def _find_component(components: list[JSON], custom_id: str) -> JSON:
    stack = list(components)
    while stack:
        component = stack.pop()
        if component.get("custom_id") == custom_id:
            return component
        stack.extend(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            stack.append(component["accessory"])
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    raise LookupError(f"the message has no component with custom_id {custom_id!r}")


def _png_1x1() -> bytes:
    # A valid one-pixel transparent PNG, so avatar and icon downloads get real image bytes.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


_TINY_PNG = _png_1x1()
