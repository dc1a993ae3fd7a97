"""Compositional crisis rules: a first-person wish or intent, then a death or self-harm object nearby.

Whole phrases ("i want to die") miss the words people put in between ("i honestly just want to fucking
die already"). These rules are built per language from small word lists instead:

- a *desire* verb in the first person (want, wish, hope, plan, think about; quiero, j'ai envie de, ich
  will, queria...) followed, within a few words, by a *death* object (die, not wake up, disappear
  forever; morir, crever, sterben, morrer...). Future forms ("i'm gonna die", "voy a morir", "je vais
  mourir") are not desires: they are everyday exaggeration far more often than not;
- a desire *or* an intent verb (also gonna, going to, about to; voy a, je vais, ich werde, vou) followed
  by a *self* object, an act done to oneself (kill myself, cut myself; matarme, me tuer, mich umbringen,
  me matar);
- the words in between may not be a negation ("je veux pas mourir", "ich will nicht sterben"); objects
  that carry their own negation ("not wake up", "nicht mehr leben", "não acordar") still match, because
  the filler stops at the negation and the object starts there;
- a wish to die that is negated or someone else's ("i don't want to die", "no quiero morir", "they want
  to die", "tu veux mourir ?") is blanked before any rule looks (``negated_wishes``), so the older
  phrase rules do not fire on it either. Only wishes to *die*: "i don't want to live" must still fire.

The languages that inflect verbs (es, fr, de, pt) get the person from the verb form itself ("quiero",
"quiere" is someone else). Patterns are plain regex over prepared text (see crisis.py): lower case, no
accents, repeated letters squeezed, so write every word in plain spelling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lexicon:
    """The word lists one language's compositional rules are built from (regex alternations)."""

    desire: str  # first-person wish or plan: goes with death and self objects
    intent: str  # first-person future or attempt: goes with self objects only
    death: str  # being dead, not existing, not waking up
    self_act: str  # something done to oneself
    better: str  # better, easier, happier... (the world without me)
    if_gone: str  # "if i died", "without me" and the like
    negation: str  # filler words that cancel the rule
    others: str  # a negation or another person right before the verb: not this person's wish
    gap: int = 3  # how many filler words may stand between verb and object


LEXICONS: dict[str, Lexicon] = {
    "en": Lexicon(
        desire=r"want(?:ed)? to|wanna|wana|wish i (?:could|would|was|were|'?d|had)|wish to|hope i|"
        r"hoping i|hope to|wishing i (?:could|would|was|were|'?d|had)|wishing to|ready to|plan(?:ing|"
        r"ed)? (?:to|on)|tempted to|urges? to|thinking (?:about|of)|"
        r"think (?:about|of)|thought (?:about|of)|thoughts (?:of|about)|considering|decided to|"
        r"thinking (?:a lot |so much |alot |constantly |seriously )(?:about|of)|"
        r"deserve to|need to|should(?: just)?|might just|could just|would rather|'?d rather|"
        r"would love to|'?d love to|can'?t wait to|fantasi[sz](?:e|ing) about|dream(?:ing)? (?:about|of)|"
        r"pray(?:ing)? (?:to|that i|i)|longing to|long to|just wanna|just want to|feel(?:ing|s)? like|"
        r"part of me (?:just )?(?:wants to|wishes i (?:could|was|were)|wishes to)",
        intent=r"going to|gonna|goin to|about to|tryna|trying to|tried to|try to|attempt(?:ed)? to|"
        r"will|'?ll|might|may",
        death=r"die|dying|stop living|stop breathing|be dead|being dead|not (?:be )?alive|not exist|"
        r"not existing|stop existing|"
        r"cease to exist|disappear (?:forever|for good|permanently)|vanish (?:forever|for good)|"
        r"sleep forever|sleep and (?:never|not) wake up|go to sleep and (?:never|not) wake up|"
        r"fall asleep and (?:never|not) wake up|(?:not|never|don'?t|dont|won'?t|wont) wake up|"
        r"not be here|not be around|be gone forever|"
        r"end it(?! (?:with|between|off|there|early|here))|"
        r"ending it(?! (?:with|between|off|there|early|here))|end (?:it all|things|everything|"
        r"my life|my suffering|my existence)|ending (?:it all|things|everything|my life|my existence)|"
        r"leave this (?:world|earth|life)|get hit by (?:a )?(?:car|bus|truck|train)|"
        r"never have been born|never existed|rest forever|commit suicide|end (?:this|the|my) pain (?:forever|"
        r"for good|permanently)|(?:disappear|vanish|leave) and never come back",
        self_act=r"kill(?:ing)? my ?self|hurt(?:ing)? my ?self|cut(?:ing)? my ?self|harm(?:ing)? my ?self|"
        r"burn(?:ing)? my ?self|unaliv(?:e|ing) my ?self|hang(?:ing)? my ?self|"
        r"end (?:my life|it all)|end it(?= *$| then *$| now *$| tonight| today| soon)|take my (?:own )?life|"
        r"overdose|od|slit my (?:wrists?|throat)|"
        r"tak(?:e|ing) (?:all|every one) of (?:my|the) (?:pills|meds|tablets)|tak(?:e|ing) all (?:my|"
        r"the) (?:pills|meds|"
        r"tablets)|swallow (?:all|every)|starve my ?self|jump (?:off|from) (?:a |the |this )?(?:bridge|"
        r"roof|building|cliff|balcony|ledge|window)|jump (?:off|from) my (?:balcony|roof|window)|"
        r"jump in front of|throw my ?self (?:off|in front|under)",
        better=r"better(?: off)?|easier|happier|simpler|lighter|fine|relieved",
        if_gone=r"if i (?:just |simply |finally )?(?:die|died|was dead|were dead|disappeared|vanished|"
        r"was gone|"
        r"were gone|wasn'?t (?:here|around|alive)|wasnt (?:here|around|alive)|weren'?t (?:here|around)|"
        r"killed myself|didn'?t exist|didnt exist|never existed|stopped existing|ended it)|without me\b(?!"
        r" (?:there|on|in|at|for))|once i'?m gone|when i'?m gone",
        negation=r"not|n'?t|dont|never|no|without|wont|cant|didnt|wouldnt|shouldnt",
        others=r"don'?t|do not|doesn'?t|doesnt|didn'?t|didnt|not|never|no|they|you|u|he|she|who|ppl|"
        r"people|won'?t|wont|can'?t|cant|nobody|no one|everyone|everybody",
    ),
    "es": Lexicon(
        desire=r"quiero|kero|quisiera|queria|deseo|desearia|necesito|prefiero|preferiria|pienso en|"
        r"estoy pensando en|pensando en|he pensado en|tengo ganas de|me dan ganas de|ganas de|"
        r"solo quiero|me gustaria|planeo|ojala pudiera|decidi|estoy list[oa] para|sueno con|"
        r"merezco|rezo para|espero",
        intent=r"voy a|iba a|intente|trate de|estoy por|estuve a punto de|a punto de",
        death=r"morir(?:me)?|estar muert[oa]|desaparecer(?: para siempre| de este mundo| y no volver|"
        r"(?= *$))|dejar de existir|no existir|no despertar(?:me)?|no volver a despertar(?:me)?|"
        r"nunca despertar|dormir(?:me)? (?:para siempre|y no despertar)|irme de este mundo|irme para siempre|"
        r"dejar de vivir|no seguir viviendo|(?:ya )?no (?:estar|seguir) viv[oa]|no vivir mas|acabar con todo|"
        r"terminar con todo|"
        r"que (?:todo )?(?:termine|se acabe|acabe)(?: todo)?(?= *$| ya| para siempre| de una vez)|"
        r"(?:pensar|pienso) en la muerte(?! de)|la muerte(?! de)",
        self_act=r"matarme|suicidarme|quitarme la vida|acabar con mi vida|terminar con mi vida|"
        r"cortarme|lastimarme|hacerme dano|ahorcarme|colgarme|tirarme (?:de|del|por|a|desde|bajo)|"
        r"aventarme|envenenarme|tomarme (?:todas )?(?:las|mis) pastillas|herirme|quemarme|"
        r"pegarme un tiro|cortarme las venas|saltar (?:del|de un|de una|de la|desde el|desde la) (?:puente|"
        r"edificio|"
        r"balcon|azotea|techo|ventana)",
        better=r"mejor|mas felices|mas feliz|mas facil|mas tranquil[oa]s?|aliviad[oa]s?",
        if_gone=r"si (?:yo )?(?:me muero|muero|me muriera|muriera|estuviera muert[oa]|desapareciera|"
        r"no existiera|no estuviera|me matara|me mato|ya no estoy|no estoy)|sin mi\b",
        negation=r"no|nunca|jamas|ni",
        others=r"no|nunca|jamas|nadie|todos|tu",
    ),
    "fr": Lexicon(
        desire=r"veux|jveux|voudrais|voulais|aimerais|ai envie de|jai envie de|g envie de|envie de|"
        r"pense a|pense souvent a|songe a|compte|prefererais|souhaite|souhaiterais|ai besoin de|"
        r"reve de|suis pret[e]? a|merite de|ai envi de|envi de|prie pour|espere",
        intent=r"vais|jvais|vai|allais|ai essaye de|essaye de|suis sur le point de|ai failli",
        death=r"mourir|crever|etre mort[e]?|disparaitre(?: pour toujours| a jamais| de ce monde| pour de bon|"
        r" definitivement|"
        r"(?= *$))|ne plus (?:exister|etre la|vivre|me reveiller)|plus (?:exister|etre la|vivre|"
        r"me reveiller)|(?:ne )?plus etre (?:en vie|vivant[e]?)|ne jamais me reveiller|ne pas me reveiller|"
        r"dormir pour toujours|"
        r"m'?endormir pour toujours|en finir(?! avec (?!(?:la vie|ma vie|tout|moi)\b))|partir pour toujours|"
        r"quitter ce monde|arreter de vivre",
        self_act=r"me tuer|me suicider|me pendre|me jeter (?:du|d'?un|sous|par|dans|d'?une)|"
        r"sauter (?:du|d'?un|d'?une|par la|de la|de mon|de ma) (?:pont|toit|immeuble|fenetre|balcon|falaise)|"
        r"me couper|"
        r"me scarifier|me faire du mal|me flinguer|me buter|me tirer une bale|me blesser|me mutiler|"
        r"m'?ouvrir les veines|me bruler|"
        r"(?:avaler|prendre) (?:toutes |tous )?(?:mes|les) (?:pilules|cachets|medicaments)|"
        r"me foutre en l'?air|"
        r"mettre fin a (?:mes jours|ma vie)|en finir(?! avec (?!(?:la vie|ma vie|tout|moi)\b))|"
        r"que tout s'?arrete(?: pour de bon| pour toujours| definitivement|(?= *$))|tout arreter (?:"
        r"definitivement|pour de bon|pour toujours)|la mort(?! de| d')",
        better=r"mieux|plus simple|plus facile|plus heureu\w*|soulag\w*",
        if_gone=r"si (?:je |j'?)(?:mourais|disparaissais|etais mort\w*|n'?etais plus la|n'?existais pas|"
        r"me tuais|crevais|etais plus la)|sans moi\b",
        negation=r"ne|n'|pas|jamais",
        others=r"tu|il|elle|on|personne",
    ),
    "de": Lexicon(
        desire=r"will|mochte|mocht|wunschte|wunsche (?:ich )?mir|wurde gerne?|wurde lieber|ware lieber|"
        r"wurde am liebsten|"
        r"plane|denke (?:(?:standig|oft|immer|viel|nur|jeden tag|nachts) )?(?:daran|dran|ans|an)|habe lust|"
        r"hab lust|sehne mich (?:danach|nach)|wollte|"
        r"bin bereit|verdiene es|hoffe",
        intent=r"werde|werd|versuche|versuchte|habe versucht",
        death=r"sterben|tot sein|nicht mehr (?:leben|aufwachen|existieren|(?:auf dieser welt |hier |da |"
        r"am leben )sein)|"
        r"den tod(?! (?:meines|meiner|von|des|der|deines|seines|ihres))|"
        r"nie (?:mehr|wieder) aufwachen|einschlafen und (?:nicht mehr|nie (?:mehr|wieder)) aufwachen|"
        r"weg (?:\w+ )?fur immer|fur immer (?:schlafen|"
        r"verschwinden|einschlafen|weg sein)|verschwinden(?: fur immer|(?= *$))|"
        r"schlus machen(?! mit (?:ihm|ihr|dir|meinem|meiner|dem|der))|allem ein ende (?:setzen|machen)|"
        r"aufhoren zu (?:leben|existieren)|zu sterben|tot zu sein|nicht mehr zu leben|(?:nicht|"
        r"nie) mehr aufzuwachen|"
        r"verschwinden und nie (?:wieder|mehr) ?(?:kommen|wiederkommen|zuruckkommen)",
        self_act=r"mich (?:[\w']+ ){0,3}?(?:umbringen|toten|ritzen|schneiden|verletzen|aufhangen|erhangen|"
        r"erschiesen|"
        r"vergiften|verbrennen|vor (?:den|einen) zug werfen|umzubringen|zu toten|zu ritzen|zu verletzen|"
        r"aufzuhangen)|mir (?:[\w']+ ){0,3}?(?:das leben nehmen|das leben zu nehmen|"
        r"die pulsadern aufschneiden|"
        r"weh tun|wehtun|was antun|etwas antun)|mein leben beenden|alle (?:meine )?(?:tabletten|pillen) "
        r"(?:nehmen|schlucken)",
        better=r"besser(?: dran)?|einfacher|leichter|glucklicher|froh|erleichtert",
        if_gone=r"wenn ich (?:tot|weg|nicht mehr da|nicht mehr am leben|nie geboren) (?:ware|bin|waren)|"
        r"wenn ich sterbe|wenn ich sterben wurde|ohne mich\b",
        negation=r"nicht|nie|kein|keine|niemals",
        others=r"du|er|sie|es|niemand|keiner",
        gap=4,
    ),
    "pt": Lexicon(
        desire=r"quero|kero|queria|so quero|desejo|tenho vontade de|to com vontade de|estou com vontade de|"
        r"vontade de|da vontade de|(?:to|estou|tou) a ?fim de|penso em|pensando em|pensei em|preciso|prefiro|"
        r"preferia|"
        r"gostaria de|planejo|decidi|mereco|espero|rezo (?:pra|para)",
        intent=r"vou|vo|ia|tentei|tentar|estou prestes a|quase",
        death=r"morrer|morre(?= *$)|estar mort[oa]|(?:pensar|penso) na morte|a morte(?! d[eoa])|"
        r"sumir (?:para sempre|pra sempre|do mapa|de vez)|"
        r"desaparecer (?:para sempre|pra sempre)|deixar de existir|nao existir|nao acordar(?: mais)?|"
        r"nunca mais acordar|dormir (?:para sempre|pra sempre|e nao acordar)|"
        r"ir embora (?:desse|deste) mundo|nao estar aqui|nao estar (?:mais )?viv[oa]|parar de viver|"
        r"desistir de viver|"
        r"(?:sumir|desaparecer) e (?:nunca mais|nao) voltar(?: mais)?|que tudo (?:acabe|termine)(?= *$| logo|"
        r" de vez| de uma vez| para sempre| pra sempre)|"
        r"desistir da vida",
        self_act=r"me matar|me mata(?= *$)|me suicidar|me cortar|me machucar|me ferir|me enforcar|"
        r"me jogar (?:da|de|do|na frente|no|na|pela|debaixo)|pular (?:da|de|do) (?:ponte|predio|janela|"
        r"sacada|viaduto|telhado)|tomar todos os (?:remedios|comprimidos)|me envenenar|"
        r"tirar (?:a )?minha (?:propria )?vida|acabar com (?:tudo|a minha vida|minha vida)",
        better=r"melhor|mais feliz\w*|mais facil|mais tranquil\w*|aliviad[oa]s?",
        if_gone=r"se eu (?:morresse|morrer|estivesse mort[oa]|sumisse|sumir|nao existisse|"
        r"nao estivesse (?:aqui|"
        r"mais aqui)|me matasse|desaparecesse)|sem mim\b",
        negation=r"nao|nunca|jamais|nem",
        others=r"nao|nunca|voce|ele|ela|ninguem|todos",
    ),
}


def _rule(lexicon: Lexicon, verbs: str, objects: str) -> str:
    filler = rf"(?:(?!(?:{lexicon.negation})\b)[\w']+ ){{0,{lexicon.gap}}}"
    return rf"\b(?:{verbs}) {filler}(?:{objects})\b"


def composed_rules() -> dict[str, list[tuple[str, str]]]:
    """Return the compositional rules per language as (signal name, pattern), like SIGNALS."""
    return {
        lang: [
            ("wish_death", _rule(lex, lex.desire, lex.death)),
            ("intent_self", _rule(lex, f"{lex.desire}|{lex.intent}", lex.self_act)),
            ("better_if_gone", rf"\b(?:{lex.better}) (?:[\w']+ ){{0,3}}?(?:{lex.if_gone})"),
        ]
        for lang, lex in LEXICONS.items()
    }


def negated_wishes() -> list[str]:
    """Return patterns for a wish to die that is negated or someone else's ("i don't want to die", "they
    want to die"): blanked before any signal is looked for, so no rule fires on them. Only death objects:
    "i don't want to live" must still fire."""
    blanks = []
    for lex in LEXICONS.values():
        filler = r"(?:(?!(?:i|i'?m|im|me|my|yo|je|j'?|ich|eu)\b)[\w']+ ){0,2}"
        blanks.append(rf"\b(?:{lex.others}) (?:{lex.desire}) {filler}(?:{lex.death})\b")
        blanks.append(rf"\b(?:{lex.desire}) (?:{lex.negation}) (?:{lex.death})\b")
    return blanks
