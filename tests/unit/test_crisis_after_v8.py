"""Families the rules learnt from held-out v8's misses and from the training corpus, written here in other
words than their own messages: the rules alone (no model) must fire on them, and must stay quiet on the
third-person and news talk and the everyday lines near them."""

from __future__ import annotations

import pytest

from bot.safety.crisis import prepare, rule_hits

FAMILIES = [
    # farewells and goodbye letters
    ("en", "it was good knowing all of you, take care"),
    ("es", "fue un placer conocerlos a todos, cuídense"),
    ("fr", "c'était un plaisir de vous connaître les amis"),
    ("de", "wars schön euch gekannt zu haben"),
    ("pt", "foi um prazer conhecer vocês, sério"),
    ("en", "i left notes for my brother and dad under my pillow"),
    ("pt", "escrevi cartas pros meus pais, tão na gaveta do quarto"),
    # giving things away because one will be dead
    ("en", "you can have my books, i wont need any of them once im dead"),
    ("fr", "prends mes fringues, quand je serai morte ça servira à rien"),
    ("de", "kannst mein fahrrad haben, wenn ich eh schon tot bin"),
    ("es", "quédate con mi bici, el mes que viene no voy a estar vivo"),
    # plans with a time
    ("en", "after graduation and then im ending it"),
    ("de", "nach meinem geburtstag bring ich mich um"),
    ("de", "ich denk drüber nach wie ich mi umbring"),
    ("fr", "j'attends la fin des vacances et ensuite je me tue"),
    # means with an amount, hoarding, in front of me
    ("es", "cuántas pildoras de valium para no despertar nunca"),
    ("pt", "quantos remédios de xanax pra nunca mais acordar"),
    ("de", "wie viele schlaftabletten um nie mehr aufzuwachen"),
    ("en", "ive been hoarding my prescription instead of taking it"),
    ("de", "ich hort schon ewig meine tabletten"),
    ("fr", "j'ai les somnifères là devant moi"),
    # wishing to be hit, high places
    ("pt", "espero que um ônibus me atropele amanhã"),
    ("fr", "j'espère qu'un train me percute"),
    ("en", "on the bridge again thinking about jumping"),
    ("es", "estoy en el puente pensando en saltar"),
    # a plan the therapist was lied to about, urges, slang, dialect
    ("en", "the nurse asked if i had a plan and i lied"),
    ("pt", "minha psiquiatra perguntou se eu tinha um plano e eu menti"),
    ("en", "the urge to burn is unbearable today"),
    ("es", "quiero desvivirme"),
    ("de", "ich mag nimmer leben"),
]

NOT_A_CRISIS = [
    ("en", "around 50,000 people die by suicide every year in the us"),
    ("de", "jedes jahr sterben tausende menschen durch suizid"),
    ("es", "la serie trata de una chica después de un intento de suicidio"),
    ("fr", "mon frère se scarifie, je sais pas quoi faire"),
    ("pt", "meu amigo se automutila, como ajudo?"),
    ("en", "she's been self harming and i'm scared for her"),
    ("es", "mi ex me cortó por whatsapp"),
    ("en", "that boss fight killed me so many times"),
    ("en", "we need to cut costs this quarter"),
    ("en", "lmao im dead 💀"),
]


# Families from the training corpus (another author), in other words than the corpus's own messages.
CORPUS_FAMILIES = [
    ("en", "honestly i won't be around after this week"),
    ("en", "you can have my headphones, i won't need them"),
    ("en", "if anyone reads this i'll be gone by then"),
    ("en", "would twenty of these be enough to die"),
    ("en", "so tired of being alive"),
    ("es", "no pienso estar aquí para la boda de mi prima"),
    ("es", "estoy cansada de vivir"),
    ("fr", "l'an prochain je serai nulle part"),
    ("fr", "je veux plus être en vie"),
    ("de", "ich hoffe ich wache morgen nicht mehr auf"),
    ("de", "nächsten monat bin ich nicht mehr da"),
    ("pt", "não pretendo estar aqui no ano novo"),
    ("pt", "cansado de existir"),
]

CORPUS_NOT_A_CRISIS = [
    ("en", "we picked a date for the wedding"),
    ("en", "so proud of myself for finishing the run"),
    ("de", "kann jemand meine blumen gießen wenn ich weg bin"),
    ("en", "i won't be around this weekend, camping trip"),
    ("pt", "não vou estar aqui no fim de semana, vou acampar"),
    ("fr", "je compte pas être là ce soir, désolé"),
]


@pytest.mark.parametrize(("locale", "text"), FAMILIES + CORPUS_FAMILIES)
def test_the_v8_and_corpus_families_fire_on_the_rules_alone(locale: str, text: str) -> None:
    hits = rule_hits(prepare(text))
    assert hits, text
    assert locale in {lang for lang, _ in hits}


@pytest.mark.parametrize(("locale", "text"), NOT_A_CRISIS + CORPUS_NOT_A_CRISIS)
def test_third_person_and_news_talk_does_not_fire_on_the_rules_alone(locale: str, text: str) -> None:
    assert not rule_hits(prepare(text)), (locale, text)
