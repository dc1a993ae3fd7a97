"""Reality generation: a short scene from the model and a picture of it.

The picture comes from an OpenAI-compatible images endpoint when ``crystals.images_model`` is set, and from
the built-in renderer otherwise (or when the endpoint fails): painted from the conversation's emotional
palette and the prompt's themes, the same for the same seed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any, cast

import openai

from bot.config import CrystalsSettings
from bot.errors import KindredError
from bot.flags import FlagReader
from bot.llm import LLMRouter
from bot.llm.errors import LLMError
from cogs.crystals.palette import Palette, palette_for
from cogs.crystals.renderer import png_bytes, render_scene
from storage.scope import Scope
from storage.service import StorageService, query_terms

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 500
# The person's recent words colour the scene: this many of their latest turns are read for the palette.
PALETTE_TURNS = 8
THEMES = 4

NARRATIVE_PROMPT = (
    "You write short, vivid scenes. Given what the person asked to see, write the scene in three to five "
    "sentences of present-tense, second-person prose. Describe only what can be seen, heard and felt; "
    "no preamble, no title."
)
IMAGE_PROMPT = (
    "You turn conversations into pictures. Read the conversation and write one image prompt (at most 60 "
    "words) for a painting that is a visual metaphor for what is being discussed and how it feels. Describe "
    "the scene, light and colours only; no text or letters in the image, no real people. Answer with the "
    "prompt alone."
)


class RealityError(KindredError):
    """A reality request that cannot be done; the text is safe to show the person."""


@dataclass(frozen=True, slots=True)
class Scene:
    """A generated scene: the narrative (empty when the model could not write it) and the picture."""

    narrative: str
    image: bytes
    source: str  # "images-endpoint" or "renderer"
    palette: Palette
    seed: int
    image_prompt: str

    @property
    def filename(self) -> str:
        return f"reality-{self.seed}.png"


class RealityService:
    """Scenes and pictures for ``/reality`` and for reality in chat."""

    def __init__(self, storage: StorageService, llm: LLMRouter | None, settings: CrystalsSettings) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings

    async def scene(self, scope: Scope, prompt: str, seed: int | None = None) -> Scene:
        """Return a scene for the person's prompt, coloured by how their recent conversation here feels."""
        prompt = " ".join(prompt.split())[:MAX_PROMPT_CHARS]
        if not prompt:
            raise RealityError("Tell me what to imagine: the prompt was empty.")
        palette = await self.palette(scope, prompt)
        chosen = seed if seed is not None else seed_for(scope, prompt)
        narrative = await self._complete(NARRATIVE_PROMPT, prompt, 300) or ""
        image, source = await self.picture(prompt, palette, query_terms(prompt)[:THEMES], chosen)
        return Scene(narrative, image, source, palette, chosen, prompt)

    async def chat_picture(self, scope: Scope, said: str) -> Scene:
        """Return a picture for the conversation so far: the model writes the prompt, a visual metaphor."""
        turns = await self.storage.recent_turns(scope)
        transcript = "\n".join(f"{t.role}: {t.text[:400]}" for t in turns[-PALETTE_TURNS:]) or f"user: {said}"
        image_prompt = await self._complete(IMAGE_PROMPT, transcript, 120) or said[:MAX_PROMPT_CHARS]
        palette = palette_for([said, *(t.text for t in turns if t.role == "user")][-PALETTE_TURNS:])
        seed = seed_for(scope, image_prompt)
        themes = query_terms(f"{said} {image_prompt}")[:THEMES]
        image, source = await self.picture(image_prompt, palette, themes, seed)
        return Scene("", image, source, palette, seed, image_prompt)

    async def palette(self, scope: Scope, prompt: str) -> Palette:
        """Return the emotional palette of the prompt and the person's recent words here."""
        turns = await self.storage.recent_turns(scope)
        mine = [t.text for t in turns if t.role == "user"][-PALETTE_TURNS:]
        return palette_for([prompt, *mine])

    async def picture(self, prompt: str, palette: Palette, themes: list[str], seed: int) -> tuple[bytes, str]:
        """Return (PNG or JPEG bytes, source): from the images endpoint if configured, else painted here."""
        if self.settings.images_model and self.llm is not None:
            image = await self._generate(prompt)
            if image is not None:
                return image, "images-endpoint"
        scene = render_scene(palette, themes, seed, self.settings.render_width, self.settings.render_height)
        return png_bytes(scene), "renderer"

    async def _generate(self, prompt: str) -> bytes | None:
        assert self.llm is not None
        endpoints = self.llm.candidates()
        if not endpoints:
            return None
        params: dict[str, Any] = {
            "model": self.settings.images_model,
            "prompt": prompt,
            "n": 1,
            "size": self.settings.images_size,
        }
        if self.settings.images_response_format:
            params["response_format"] = self.settings.images_response_format
        try:
            result = await endpoints[0].client.images.generate(**cast(Any, params))
            encoded = result.data[0].b64_json if result.data else None
            return base64.b64decode(encoded, validate=True) if encoded else None
        except (openai.OpenAIError, binascii.Error, ValueError) as exc:
            # The scene is still shown, painted by the built-in renderer; operators see why in the log.
            log.warning("images endpoint failed, painting the scene instead: %s", type(exc).__name__)
            return None

    async def _complete(self, system: str, user: str, max_tokens: int) -> str | None:
        if self.llm is None:
            return None
        try:
            completion = await self.llm.complete(
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                max_tokens=max_tokens,
                temperature=0.8,
            )
        except LLMError as exc:
            log.info("reality text fell back: %s", type(exc).__name__)
            return None
        return completion.text.strip() or None


def seed_for(scope: Scope, prompt: str) -> int:
    """Return the seed a person's prompt paints with: the same words give the same picture."""
    digest = hashlib.blake2b(f"{scope.user_key}|{prompt.casefold()}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


# ---------------------------------------------------------------------- reality in chat

_ASKS_FOR_PICTURE = re.compile(
    r"\b(imagine|picture|visuali[sz]e|draw|paint|sketch|illustrate)\b"
    r"|\bshow\s+(me|us)\b"
    r"|\bwhat\s+(would|does|did|might)\b.{0,60}\blook\s+like\b",
    re.IGNORECASE,
)
OPT_OUT_KEY = "reality_off"
PLACE_KEY = "reality"
FLAG = "reality_in_chat"


def asks_for_picture(text: str) -> bool:
    """Return whether a message asks Kindred to imagine, show or picture something."""
    return bool(_ASKS_FOR_PICTURE.search(text))


async def reality_in_chat_allowed(
    storage: StorageService,
    scope: Scope,
    parent_channel_id: str | None = None,
    flags: FlagReader | None = None,
) -> bool:
    """The one gate for pictures in chat: the runtime flag is on (when flags exist), an admin enabled it in
    this channel, and the person did not opt out."""
    if scope.guild_id is None:
        return False
    if flags is not None and not await flags.enabled(FLAG, scope.guild_id):
        return False
    place = await storage.place_settings(scope.platform, scope.guild_id, scope.channel_id, parent_channel_id)
    if not place.get(PLACE_KEY):
        return False
    return not (await storage.user_settings(scope)).get(OPT_OUT_KEY)


async def take_chat_image_allowance(
    storage: StorageService, scope: Scope, settings: CrystalsSettings
) -> bool:
    """Take one image from the person's and the guild's hourly allowance; False when either is spent."""
    per_user = settings.chat_images_per_hour_user
    if not (
        await storage.take_rate_tokens("reality-user", scope.user_key, per_user, per_user / 3600)
    ).allowed:
        return False
    if scope.guild_id is None:
        return True
    per_guild = settings.chat_images_per_hour_guild
    decision = await storage.take_rate_tokens(
        "reality-guild", f"g{scope.guild_id}", per_guild, per_guild / 3600
    )
    return decision.allowed
