"""The crisis protocol's fixed words: the message a person receives, and what the model is told.

These texts are reviewed like code: change them only together with a review by someone who knows crisis
support. They follow the usual guidance for a first response: take the person seriously, say you are glad
they said it, name where to get help right now, invite them to keep talking, and never discuss methods.
"""

from __future__ import annotations

# {helplines} is replaced by the configured resources for the locale, one per line.
RESPONSES: dict[str, str] = {
    "en": (
        "I'm really glad you told me, and I'm so sorry you're carrying this. What you're feeling matters, "
        "and you deserve support from a person right now. You can reach someone any time:\n{helplines}\n"
        "I'm an AI, not a counsellor, but I'm here and I'd like to keep talking with you. "
        "Would you tell me a bit more about what's going on?"
    ),
    "es": (
        "Me alegra mucho que me lo hayas contado, y siento que estés pasando por esto. Lo que sientes "
        "importa, y mereces el apoyo de una persona ahora mismo. Puedes hablar con alguien en cualquier "
        "momento:\n{helplines}\nSoy una IA, no un profesional, pero estoy aquí y me gustaría seguir "
        "hablando contigo. ¿Me cuentas un poco más de lo que está pasando?"
    ),
    "fr": (
        "Je suis vraiment content que tu m'en parles, et je suis désolé que tu traverses ça. Ce que tu "
        "ressens compte, et tu mérites le soutien d'une personne dès maintenant. Tu peux joindre quelqu'un "
        "à tout moment :\n{helplines}\nJe suis une IA, pas un professionnel, mais je suis là et j'aimerais "
        "continuer à parler avec toi. Tu veux me dire un peu plus ce qui se passe ?"
    ),
    "de": (
        "Ich bin wirklich froh, dass du es mir sagst, und es tut mir leid, dass du das gerade trägst. Was "
        "du fühlst, zählt, und du verdienst jetzt Unterstützung von einem Menschen. Du kannst jederzeit "
        "jemanden erreichen:\n{helplines}\nIch bin eine KI, keine Fachperson, aber ich bin da und würde "
        "gern weiter mit dir reden. Magst du mir ein bisschen mehr erzählen, was los ist?"
    ),
    "pt": (
        "Fico muito feliz que você me contou, e sinto muito que esteja passando por isso. O que você sente "
        "importa, e você merece o apoio de uma pessoa agora. Você pode falar com alguém a qualquer hora:"
        "\n{helplines}\nSou uma IA, não um profissional, mas estou aqui e gostaria de continuar conversando "
        "com você. Pode me contar um pouco mais sobre o que está acontecendo?"
    ),
}
DEFAULT_LOCALE = "en"

# Given to the model for the turn (a required system section), whatever else the prompt holds.
MODEL_INSTRUCTION = (
    "Safety: the person's latest message shows signs that they may be thinking about suicide or self-harm. "
    "Kindred's crisis message with helplines has already been sent to them privately. Stay with them: "
    "reply warmly and briefly, in their language, take them seriously, ask how they are and whether they "
    "are safe right now, and gently encourage reaching out to a helpline or someone they trust. Never "
    "give information about methods, means or amounts, never judge, and never promise secrecy."
)

# Sent to a guild's opted-in moderator channel: who and where, never what was said.
MODERATOR_ALERT = (
    "Kindred's crisis protocol ran for <@{user_id}> in <#{channel_id}>. They were sent helplines privately "
    "and Kindred is staying in the conversation. Please check in with care."
)
