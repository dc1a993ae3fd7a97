"""The fake gateway: HELLO, IDENTIFY/READY, RESUME, heartbeats, dispatches and forced disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_api.models import JSON, Intent
from tests.fakes.discord_api.world import USER_MENTION, World

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

OP_NAMES = {
    OP_HEARTBEAT: "HEARTBEAT",
    OP_IDENTIFY: "IDENTIFY",
    OP_PRESENCE_UPDATE: "PRESENCE_UPDATE",
    OP_VOICE_STATE: "VOICE_STATE_UPDATE",
    OP_RESUME: "RESUME",
    OP_REQUEST_MEMBERS: "REQUEST_GUILD_MEMBERS",
}

# Which intent a dispatch needs, split by whether it happened in a guild or a DM.
_EVENT_INTENTS: dict[str, tuple[int, int]] = {
    "MESSAGE_CREATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_DELETE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
    "GUILD_CREATE": (Intent.GUILDS, Intent.GUILDS),
    "THREAD_CREATE": (Intent.GUILDS, Intent.GUILDS),
    "CHANNEL_CREATE": (Intent.GUILDS, Intent.GUILDS),
    "CHANNEL_UPDATE": (Intent.GUILDS, Intent.GUILDS),
}


@dataclass
class ReceivedOp:
    """One gateway payload the client sent, with the websocket path it came in on."""

    op: int
    name: str
    data: Any
    path: str


@dataclass
class GatewayConnect:
    """One websocket connection the client opened: its path and query (v, encoding, compress)."""

    path: str
    query: dict[str, str]


class GatewayConnection:
    """One websocket from the client; serialises sends and applies the transport compression."""

    def __init__(self, ws: web.WebSocketResponse, path: str, compress: str | None) -> None:
        self.ws = ws
        self.path = path
        self.session: GatewaySession | None = None
        self.closed_by_server = False
        self._lock = asyncio.Lock()
        # zlib-stream is one deflate stream for the whole connection, each message ending in a sync flush.
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None

    async def send(self, payload: JSON) -> bool:
        """Send one payload; return False when the socket is already gone."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        return True

    async def close(self, code: int, reason: str = "") -> None:
        """Close the socket from the server side with a gateway close code."""
        self.closed_by_server = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=reason.encode())


@dataclass
class GatewaySession:
    """A gateway session: its sequence, what it was sent (for RESUME) and its current socket."""

    id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    history: list[tuple[int, str, JSON]] = field(default_factory=list)
    conn: GatewayConnection | None = None
    alive: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def owns_guild(self, guild_id: int) -> bool:
        """Return whether this session's shard receives the guild's events."""
        shard_id, shard_count = self.shard
        return (guild_id >> 22) % shard_count == shard_id


class Gateway:
    """Serves the gateway websocket and routes dispatches to sessions."""

    def __init__(
        self,
        world: World,
        *,
        token: str,
        ws_url: Callable[[str], str],
        notify: Callable[[], None],
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.world = world
        self.token = token
        self._ws_url = ws_url
        self._notify = notify
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.enabled_privileged_intents = Intent.PRIVILEGED
        self.ack_heartbeats = True
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.received: list[ReceivedOp] = []
        self.connects: list[GatewayConnect] = []

    # ------------------------------------------------------------------ websocket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one gateway websocket connection."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        self.connects.append(GatewayConnect(request.path, dict(request.query)))
        conn = GatewayConnection(ws, request.path, compress)
        self.connections.append(conn)
        try:
            await conn.send(
                {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake"]}}
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_payload(conn, json.loads(msg.data))
        finally:
            self.connections.remove(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # A client that says goodbye with 1000/1001 ends its session, as Discord does.
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    session.alive = False
            self._notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: JSON) -> None:
        op = int(payload.get("op", -1))
        data: Any = payload.get("d")
        self.received.append(ReceivedOp(op, OP_NAMES.get(op, str(op)), data, conn.path))
        if op == OP_HEARTBEAT:
            if self.ack_heartbeats:
                await conn.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == OP_RESUME:
            await self._resume(conn, data)
        elif op == OP_REQUEST_MEMBERS:
            await self._request_members(conn, data)
        self._notify()

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        if data.get("token") != self.token:
            await conn.close(4004, "Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & Intent.PRIVILEGED & ~self.enabled_privileged_intents:
            await conn.close(4014, "Disallowed intent(s).")
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        session = GatewaySession(
            id=uuid.uuid4().hex, intents=intents, shard=(int(shard_id), int(shard_count))
        )
        session.conn = conn
        conn.session = session
        self.sessions[session.id] = session
        guilds = [g for g in self.world.guilds.values() if session.owns_guild(g.id)]
        user = self.world.bot.payload()
        user.update(verified=True, mfa_enabled=False, email=None)
        await self._send(
            session,
            "READY",
            {
                "v": 10,
                "user": user,
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self._ws_url("/ws/resume"),
                "shard": [session.shard[0], session.shard[1]],
                "application": {"id": str(self.world.application_id), "flags": self.application_flags()},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "_trace": ["fake"],
            },
        )
        for guild in guilds:
            await self._send(session, "GUILD_CREATE", self.world.guild_create_payload(guild))

    async def _resume(self, conn: GatewayConnection, data: JSON) -> None:
        if data.get("token") != self.token:
            await conn.close(4004, "Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.alive:
            await conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        last_seen = data.get("seq") or 0
        async with session.lock:
            old = session.conn
            session.conn = conn
            conn.session = session
            if old is not None and old is not conn:
                await old.close(4000, "Session resumed elsewhere.")
            # Replay what the client missed while it was away, then confirm.
            for seq, event, payload in session.history:
                if seq > last_seen:
                    await conn.send({"op": OP_DISPATCH, "t": event, "s": seq, "d": payload})
            session.seq += 1
            session.history.append((session.seq, "RESUMED", {}))
            await conn.send({"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake"]}})

    async def _request_members(self, conn: GatewayConnection, data: JSON) -> None:
        if conn.session is None:
            return
        guild = self.world.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        else:
            query = str(data.get("query") or "").lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
            limit = int(data.get("limit") or 0)
            if limit:
                members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ dispatching

    def application_flags(self) -> int:
        """Return the application flags that match the privileged intents the fake allows."""
        flags = 0
        if self.enabled_privileged_intents & Intent.GUILD_PRESENCES:
            flags |= 1 << 12
        if self.enabled_privileged_intents & Intent.GUILD_MEMBERS:
            flags |= 1 << 14
        if self.enabled_privileged_intents & Intent.MESSAGE_CONTENT:
            flags |= 1 << 18
        return flags

    async def _send(self, session: GatewaySession, event: str, data: JSON) -> None:
        async with session.lock:
            session.seq += 1
            session.history.append((session.seq, event, data))
            conn = session.conn
            if conn is not None:
                await conn.send({"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a dispatch to every live session that would receive it; return how many got it."""
        guild_id = data.get("guild_id")
        delivered = 0
        for session in list(self.sessions.values()):
            if not session.alive:
                continue
            if guild_id is not None and not session.owns_guild(int(guild_id)):
                continue
            if guild_id is None and session.shard[0] != 0:
                continue
            payload = self._filter(session, event, data)
            if payload is None:
                continue
            # A disconnected session still buffers the event so a RESUME replays it.
            await self._send(session, event, payload)
            delivered += 1
        return delivered

    def _filter(self, session: GatewaySession, event: str, data: JSON) -> JSON | None:
        needed = _EVENT_INTENTS.get(event)
        in_guild = data.get("guild_id") is not None
        if needed is not None and not session.intents & needed[0 if in_guild else 1]:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not session.intents & Intent.MESSAGE_CONTENT:
            return self._without_content(data)
        return data

    def _without_content(self, data: JSON) -> JSON:
        # Without the message content intent Discord blanks these fields, except in DMs,
        # for the bot's own messages, and for messages that mention the bot.
        bot_id = str(self.world.bot.id)
        author = data.get("author") or {}
        mentioned = any(str(m.get("id")) == bot_id for m in data.get("mentions", [])) or bot_id in (
            USER_MENTION.findall(str(data.get("content", "")))
        )
        if data.get("guild_id") is None or author.get("id") == bot_id or mentioned:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    # ------------------------------------------------------------------ control

    async def disconnect(self, code: int = 4000, reason: str = "") -> int:
        """Close every gateway socket from the server side; return how many were closed."""
        conns = list(self.connections)
        await asyncio.gather(*(c.close(code, reason) for c in conns))
        return len(conns)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, which makes discord.py drop the socket and RESUME."""
        for conn in list(self.connections):
            await conn.send({"op": OP_RECONNECT, "d": None})

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; unless resumable, the sessions are gone for good."""
        for conn in list(self.connections):
            if conn.session is not None and not resumable:
                conn.session.alive = False
            await conn.send({"op": OP_INVALID_SESSION, "d": resumable})

    def ops(self, name: str | None = None) -> list[ReceivedOp]:
        """Return the payloads the client sent, optionally only those of one op name."""
        return [r for r in self.received if name is None or r.name == name]
