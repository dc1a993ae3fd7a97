"""The crisis check's pattern data: signals of suicide and self-harm, and the figures of speech that look
like them, in English, Spanish, French, German and Portuguese.

How the patterns are read (see crisis.py): the message is lower-cased, accents are removed, digits and
symbols used as letters are read as letters ("k1ll" as "kill", "$" as "s"), and every run of one repeated
letter is squeezed to a single letter ("kiiill" and "kill" both become "kil"). The patterns below are written
in plain spelling and squeezed the same way when compiled, so "kill" in a pattern matches "kil", "kill"
and "kiiill" in a message. Write them without accents, and never split a double letter across a group
("cut(?:ting)?" would need "cutting", which is squeezed to "cuting"; write "cut(?:ing)?").

Figures of speech are blanked out of the message before the signals are looked for, so "I could die of
embarrassment" leaves "I could" and does not fire, while "I want to die" still does.

Reviewed for recall first: when a phrase is ambiguous between a crisis and everyday speech with no
figurative marker ("I want to die lol"), it fires. A kind message to someone who did not need it costs
little; silence to someone who did costs everything.
"""

from __future__ import annotations

from bot.safety.crisis_compose import composed_rules, negated_wishes
from bot.safety.crisis_indirect import INDIRECT, THIRD_PERSON

# Shared pieces (plain regex after squeezing).
_ME_EN = r"(?:my ?self|me)"
_WANT_EN = (
    r"(?:want(?:ed)? to|wanna|wana|should|could just|need to|plan(?:ing)? to|ready to|tempted to|"
    r"urge to|deserve to)"
)
_LIFE = r"(?:life|lyfe|existence)"

# (signal name, pattern). A signal name says which kind of cue fired; it is safe to log and count.
SIGNALS: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("topic_word", r"\b(?:self[- ]?harm\w*|overdos\w*)"),
        (
            "suicide_self",
            r"\b(?:i|i'?m|im|i am|been|feeling|feel|so) (?:so |really |very |kinda |always )?suicidal\b|"
            r"\bsuicid\w* (?:\w+ ){0,3}(?:my mind|my head|the only (?:option|way|answer|choice))|"
            r"\b(?:thinking|thought|think|thoughts) (?:about|of) (?:\w+ )?suicid\w*",
        ),
        ("suicide_word", r"\b(?:suicid\w*|suicdal|sucidal|sewerslide|self[- ]?unalive)"),
        (
            "kill_self",
            rf"\b(?:kill(?:ing|ed)?|murder|unaliv(?:e|ing|ed)) {_ME_EN}\b|"
            # "off myself" reads as "of myself" once letters are squeezed, so it needs the verb before it
            rf"\b(?:gonna|going to|wanna|want to|should|could|might|i'?l|just|about to|ready to|planning to|"
            rf"tempted to) (?:just )?of my ?self\b|\b(?:end|ending|hang|hanging|"
            rf"drown|drowning|shoot|shooting|poison|stab|stabbing|starve) my ?self\b",
        ),
        ("kms", r"\b(?:kms|ctb)\b"),
        (
            "end_life",
            rf"\b(?:end|ending|take|taking|took|stop) (?:my|this) (?:own )?{_LIFE}\b|\bend it all\b|"
            rf"\bending it all\b|\bend it (?:tonight|today|soon|now)\b|\bfinish it (?:all|tonight)\b",
        ),
        (
            "want_die",
            rf"\b(?:i|i'?m|im|just|really|honestly|so|and|literally)? ?{_WANT_EN} (?:just )?(?:die|dye|"
            rf"be dead|not exist|stop existing|disappear forever|not wake up|never wake up|sleep forever|"
            rf"not be here)\b",
        ),
        (
            "want_die2",
            r"\b(?:i )?(?:wish|hope) (?:i (?:was|were|would|could) |to )?(?:be )?(?:dead|die|died|"
            r"not wake up|never wake up|never woke up|disappear(?:ed)? forever|not exist|gone forever)\b",
        ),
        ("not_born", r"\b(?:wish|if only) i (?:was|were|had|'?d)? ?(?:never|not|n'?t) (?:been )?born\b"),
        (
            "no_live",
            r"\b(?:do ?n'?t|dont|do not|no longer|not) (?:want|wanna|wish) (?:to )?(?:live(?! (?:in|with|"
            r"near|at|there|here|on|alone|together|abroad|far|close|next))|be alive|exist|keep living|"
            r"wake up(?! (?:early|at|tomorrow (?:for|at|early|morning)|for|so|on|in|before))|be (?:here|"
            r"around) (?:anymore|"
            r"any more|any longer))\b",
        ),
        (
            "feel_like_dying",
            r"\bfeel(?:ing)? like (?:dying|death|i(?:'?m| am) dying inside|disappearing forever)\b|"
            r"\bthinking (?:about|of) (?:dying|death|ending it|killing myself|suicide)\b",
        ),
        (
            "no_reason_live",
            r"\b(?:no|zero|nothing to|not any|no more) (?:reason|point|purpose|will) (?:to|in|"
            r"for) (?:live|living|life|go on|going on|go on living|keep going|keep living|be alive|stay|"
            r"staying alive|exist)\b|\b(?:life|living) (?:is|feels) (?:not worth|pointless|meaningless)\b|"
            r"\b(?:not|isn'?t|isnt|ain'?t|aint) worth living\b|\b(?:don'?t|dont|do not|can'?t|cant|cannot) "
            r"(?:see|find|have) (?:a|any|the) (?:reason|point|purpose) (?:to|in|for|of) (?:live|living|life|"
            r"go on|going on|keep going|stay alive|staying alive|be alive|exist|existing)\b",
        ),
        (
            "better_off",
            r"\b(?:better off|be better|be happier|be easier|happier|easier) (?:dead|without me|"
            r"if i (?:was|were)(?:n'?t (?:here|around|alive)| gone| dead| not (?:here|around|alive)|"
            r" never born)|if i died|if i disappeared|if i never existed)\b|\b(?:everyone|everybody|they|"
            r"world|family|you all|yall) (?:would be|'?d be|is|are)? ?better (?:off )?without me\b|"
            r"\bworld without me\b",
        ),
        (
            "self_harm",
            r"\b(?:(?:been|started|start|still|keep|kept|back to) cutting(?! (?:the|my hair|hair|back|"
            r"down|class|classes|it|in|out|off|costs|carbs|onions|vegetables|wood|grass|corners|ties))|"
            r"cutting (?:myself )?again|(?:i|i'?ve|ive|i'?m|im|been|keep|kept|started|start|still|"
            r"my) (?:been )?"
            r"self[- ]?harm\w*|sh relapse|relapsed on sh|cut(?:ing)? (?:myself|"
            r"my (?:wrists?|arms?|legs?|thighs?))|slit(?:ing)? my (?:wrists?|throat)|burn(?:ing)? myself|"
            r"hurt(?:ing)? myself|harm(?:ing)? myself|starv(?:e|ing) myself to death|bleed out)\b",
        ),
        (
            "method",
            r"\b(?:(?:pills|rope|gun|knife|blade|razor) (?:to|so i can) (?:die|end it|kill myself)|"
            r"in order to die|(?:i|to|gonna|wanna|might|will|planning to) overdos\w*|o\.?d\.? on|"
            r"swallow(?:ed)? (?:all|a bottle|the whole)|"
            r"jump(?:ing)? (?:off|from) (?:a|the|this) (?:bridge|roof|building|cliff|balcony)|"
            r"in front of a (?:train|car|bus)|hang myself|noose|rope around my neck|pills? to (?:end|die|"
            r"sleep forever))\b",
        ),
        (
            "farewell",
            r"\b(?:this is (?:my|the) (?:last|final) (?:message|goodbye|post)|goodbye (?:forever|everyone|"
            r"world|cruel world)|(?:won'?t|will not|wont) be (?:here|around|alive) (?:tomorrow|"
            r"much longer|anymore|for long|next week)|writ(?:e|ing|en) (?:my|a) (?:suicide|goodbye|"
            r"last) (?:note|letter)|giving away (?:all )?my (?:stuff|things)|said my goodbyes|"
            r"last night alive|say goodbye to everyone)\b",
        ),
        (
            "cant_go_on",
            r"\b(?:i )?(?:can'?t|cannot|cant) (?:go on(?! (?:the|a|an|this|that|with|vacation|holiday|"
            r"tour|stage|air|my|our|your|their|it|tomorrow|today|tonight|to|a date|dates|twitter|reddit|"
            r"discord))|keep going|keep living|do (?:this|life|it) anymore|take (?:it|this|life) anymore|"
            r"live like this|keep doing this anymore)\b",
        ),
        (
            "tired_of_living",
            r"\b(?:tired|sick|done) (?:of|with) (?:living|being alive|life|existing|"
            r"everything and everyone)\b|\bdone with it all\b|\bwant (?:it all|everything|all of it|"
            r"this life) to (?:end|stop)\b|\bwant the pain to (?:end|stop) (?:forever|for good)\b",
        ),
    ],
    "es": [
        ("topic_word", r"\b(?:autolesion\w*|sobredosis)\b"),
        (
            "suicide_self",
            r"\b(?:pensado|pienso|pensando|pensar) (?:mucho )?en (?:el )?suicid\w*|\b(?:me siento|estoy|"
            r"ando) "
            r"suicida\b|\bsuicid\w* (?:\w+ ){0,3}(?:mi mente|mi cabeza|unica (?:opcion|salida))",
        ),
        ("suicide_word", r"\b(?:suicid(?:io|ios|arme|arse|ad[oa]|a|as|ar|aria|arias)|suisid\w*)\b"),
        (
            "kill_self",
            r"\b(?:matarme|me voy a matar|me quiero matar|quiero matarme|me mato|ahorcarme|colgarme|"
            r"tirarme (?:de|del|por|a las vias)|aventarme)\b",
        ),
        (
            "end_life",
            r"\b(?:quitarme la vida|acabar con mi vida|terminar con mi vida|acabar con todo|"
            r"terminar con todo|poner fin a mi vida|me quito la vida)\b",
        ),
        (
            "want_die",
            r"\b(?:quiero|quisiera|queria|me quiero|ojala|deseo|tengo ganas de|me dan ganas de|ganas de|"
            r"solo quiero) (?:morir\w*|estar muert[oa]|desaparecer para siempre|no despertar|"
            r"dormir para siempre|no existir|dejar de existir|morirme)\b|\bme quiero morir\b|"
            r"\bojala me muriera\b|\bojala estuviera muert[oa]\b",
        ),
        ("not_born", r"\b(?:ojala|quisiera) no haber nacido\b|\bojala nunca hubiera nacido\b"),
        (
            "no_live",
            r"\bno (?:quiero|deseo) (?:seguir )?(?:vivir|viviendo|existir|estar viv[oa]|despertar|estar aqui|"
            r"seguir aqui|estar en este mundo|en este mundo)\b|"
            r"\bya no quiero vivir\b",
        ),
        (
            "no_reason_live",
            r"\b(?:no (?:tengo|hay|le veo|le encuentro|encuentro) (?:ninguna |ningun )?(?:razon|razones|"
            r"motivo|motivos|sentido) (?:para |de |a |en )?(?:la |mi )?(?:vivir|seguir viviendo|seguir|"
            r"vida)|(?:harto|harta|cansado|cansada) de (?:vivir|la vida|estar vivo|estar viva)|"
            r"la vida no (?:vale|tiene) (?:la pena|sentido)|no vale la pena vivir)\b",
        ),
        (
            "better_off",
            r"\b(?:estarian|estarias|estaria|estan|seria) mejor sin mi\b|"
            r"\bmejor si (?:yo )?(?:estuviera muert[oa]|estuviese muert[oa]|me muriera|no estuviera|"
            r"desapareciera|no existiera)\b|\bmejor (?:estaria|estar) muert[oa]\b|\bmejor muert[oa]\b",
        ),
        (
            "self_harm",
            r"\b(?:me autolesion\w*|autolesionarme|cortarme|me corto|me estoy cortando|me estoy lastimando|"
            r"me estoy haciendo dano|hacerme dano|me hago dano|lastimarme|me lastimo|herirme|"
            r"cortarme las venas)\b",
        ),
        (
            "method",
            r"\b(?:(?:me (?:voy a )?(?:hacer|provocar|tomar)|quiero|pienso en|hacerme) (?:una )?sobredosis|"
            r"tomarme (?:todas )?las pastillas|pastillas para morir|tirarme (?:de un|"
            r"del) (?:puente|edificio))\b",
        ),
        (
            "farewell",
            r"\b(?:este es mi ultimo mensaje|adios para siempre|carta de despedida|no estare aqui manana|"
            r"me despido de todos)\b",
        ),
        ("cant_go_on", r"\bno puedo seguir viviendo\b|\bya no aguanto (?:vivir|la vida|mas esta vida)\b"),
    ],
    "fr": [
        ("topic_word", r"\b(?:automutil\w*|scarif\w*|overdose|surdose)\b"),
        (
            "suicide_self",
            r"\b(?:pense|pensais|penser|pensees?) (?:souvent |beaucoup )?au suicide\b|\bje suis suicidaire\b|"
            r"\bsuicid\w* (?:\w+ ){0,3}(?:seule (?:option|solution|issue))",
        ),
        ("suicide_word", r"\b(?:suicid(?:er|aire|aires|ee|ees|e|es|ant|erai|erais))\b"),
        (
            "kill_self",
            r"\b(?:me tuer|me foutre en l'?air|me pendre|me jeter (?:sous|du|d'?un)|je vais me tuer|"
            r"me flinguer|me buter)\b",
        ),
        (
            "end_life",
            r"\b(?:mettre fin a (?:mes jours|ma vie)|en finir(?! avec (?!(?:la vie|ma vie|tout|moi)\b))|"
            r"finir ma vie|me retirer la vie|m'?enlever la vie)\b",
        ),
        (
            "want_die",
            r"\b(?:disparaitre (?:pour toujours|a jamais|definitivement)|envie de (?:mourir|crever|"
            r"disparaitre)|je veux (?:mourir|crever|disparaitre pour toujours|etre mort\w*)|"
            r"j'?aimerais (?:mourir|etre mort\w*)|je voudrais (?:mourir|etre mort\w*)|veux juste mourir|"
            r"ne plus me reveiller|ne (?:jamais|pas|plus jamais) me reveiller)\b",
        ),
        (
            "not_born",
            r"\b(?:j'?aurais prefere|j'?aimerais|je voudrais) (?:ne )?(?:jamais|pas) (?:etre|"
            r"avoir ete) ne\w*\b",
        ),
        (
            "no_live",
            r"\b(?:marre de vivre|fatigue de vivre|plus envie de vivre|je (?:ne )?veux plus vivre|"
            r"(?:ne )?veux plus exister|je veux plus etre la|pas envie de vivre)\b",
        ),
        (
            "no_reason_live",
            r"\b(?:aucune raison de vivre|plus de raison de vivre|la vie n'?a (?:plus )?(?:aucun )?sens|"
            r"ca ne vaut (?:plus )?la peine de vivre|pas la peine de vivre)\b",
        ),
        (
            "better_off",
            r"\b(?:mieux si (?:j'?etais mort\w*|je disparaissais|je n'?etais (?:plus )?la|je mourais)|"
            r"mieux sans moi|mieux (?:vaut|vaudrait) que je meure|mieux mort\w*|"
            r"serait mieux si je (?:n'?etais plus la|disparaissais))\b",
        ),
        (
            "self_harm",
            r"\b(?:(?:je me|me|m'?) ?(?:automutil\w*|scarif\w*)|me couper (?:les veines)?|me (?:faire|fais|"
            r"fait) du mal|je me coupe|me blesser|me fais mal expres)\b",
        ),
        (
            "method",
            r"\b(?:(?:faire|fais|fait|fera) une (?:overdose|surdose)|avaler (?:toutes )?(?:les|"
            r"mes) (?:pilules|cachets|medicaments)|"
            r"sauter (?:du|d'?un) (?:pont|toit|immeuble))\b",
        ),
        ("farewell", r"\b(?:mon dernier message|adieu a tous|lettre d'?adieu|je ne serai plus la demain)\b"),
        (
            "cant_go_on",
            r"\b(?:je (?:ne )?peux plus vivre|j'?en peux plus de (?:vivre|la vie)|"
            r"je n'?en peux plus de (?:vivre|la vie)|je (?:ne )?peux plus continuer a vivre)\b",
        ),
    ],
    "de": [
        ("topic_word", r"\b(?:ritzen|geritzt|selbstverletz\w*|uberdosis)\b"),
        (
            "suicide_self",
            r"\b(?:denke|dachte|gedanken) (?:oft |viel |standig )?(?:an|uber) (?:den )?(?:suizid|selbstmord)|"
            r"\bich bin suizidal\b|\b(?:suizid|selbstmord) (?:\w+ ){0,3}einzige (?:option|losung|ausweg)",
        ),
        ("suicide_word", r"\b(?:suizid\w*|selbstmord\w*|freitod)"),
        (
            "kill_self",
            r"\b(?:mich (?:umbringen|toten|erhangen|aufhangen|erschiessen|vor den zug werfen)|"
            r"bringe? mich um|bring mich um|toete mich)\b",
        ),
        (
            "end_life",
            r"\b(?:mir das leben nehmen|nehme mir das leben|meinem leben ein ende (?:setzen|machen)|"
            r"allem ein ende (?:setzen|machen)|mein leben beenden)\b",
        ),
        (
            "want_die",
            r"\b(?:(?:ich )?(?:will|mochte|wunschte|wollte) (?:einfach )?(?:nur )?(?:sterben|tot sein|"
            r"nicht mehr aufwachen|verschwinden fur immer|fur immer verschwinden)|wunschte ich ware tot|"
            r"ich will nicht mehr aufwachen)\b",
        ),
        (
            "not_born",
            r"\b(?:ware ich (?:doch )?nie geboren|wunschte ich ware nie geboren|nie geboren worden)\b",
        ),
        (
            "no_live",
            r"\b(?:will|mochte|kann) nicht mehr leben\b|\bkeine lust mehr (?:zu leben|auf das leben|"
            r"auf leben)\b|\bwill nicht mehr da sein\b",
        ),
        (
            "no_reason_live",
            r"\b(?:kein(?:en)? (?:grund|sinn) mehr (?:zu leben|im leben)|das leben hat keinen sinn|"
            r"leben ist sinnlos)\b",
        ),
        (
            "better_off",
            r"\b(?:besser dran ohne mich|ohne mich besser dran|ohne mich (?:waren|ware|sind|"
            r"ist) (?:\w+ ){0,2}(?:besser|glucklicher)|besser wenn ich (?:tot|weg|nicht mehr da) ware|"
            r"besser (?:ohne mich|dran wenn ich (?:tot|weg|nicht mehr da) ware)|ware besser tot|"
            r"besser tot)\b",
        ),
        (
            "self_harm",
            r"\b(?:ritze mich|mich (?:\w+ )?(?:ritzen|geritzt)|ich ritze|mir weh tun|"
            r"mich (?:selbst )?verletzen|verletze mich(?! beim)|mir die pulsadern)\b",
        ),
        (
            "method",
            r"\b(?:um (?:zu sterben|mich umzubringen|mich zu toten|mir das leben zu nehmen)|(?:eine|"
            r"ne) uberdosis (?:nehmen|"
            r"schlucken)|tabletten schlucken|von der brucke springen|vom dach springen|vor den zug)\b",
        ),
        (
            "farewell",
            r"\b(?:meine letzte nachricht|abschiedsbrief|lebt wohl alle|morgen bin ich nicht mehr da)\b",
        ),
        ("cant_go_on", r"\b(?:ich kann nicht mehr leben|ich halte das leben nicht mehr aus)\b"),
    ],
    "pt": [
        ("topic_word", r"\b(?:automutila\w*|overdose)\b"),
        (
            "suicide_self",
            r"\b(?:pensei|penso|pensando|pensar) (?:muito )?(?:em|no) suicid\w*|\b(?:me sinto|estou|to|tou) "
            r"suicida\b|\bsuicid\w* (?:\w+ ){0,3}(?:unica (?:opcao|saida))",
        ),
        ("suicide_word", r"\b(?:suicid(?:io|ios|ar|ei|a|as|ando)|suicidar me)\b"),
        (
            "kill_self",
            r"\b(?:me matar|vou me matar|quero me matar|me enforcar|me jogar (?:da|de|do|na frente))\b",
        ),
        (
            "end_life",
            r"\b(?:tirar (?:a )?minha (?:propria )?vida|acabar com (?:a )?minha vida|acabar com tudo|"
            r"por fim a minha vida|tirar a propria vida)\b",
        ),
        (
            "want_die",
            r"\b(?:quero|queria|so quero|desejo|tenho vontade de|vontade de|da vontade de) (?:morrer|"
            r"estar mort[oa]|sumir para sempre|sumir pra sempre|nao acordar|nunca mais acordar|"
            r"dormir para sempre|dormir pra sempre|deixar de existir)\b",
        ),
        ("not_born", r"\b(?:queria|preferia) (?:nao )?(?:nunca )?ter nascido\b"),
        (
            "no_live",
            r"\b(?:cansad[oa]|cansei) de viver\b|\bnao (?:quero|aguento) mais viver\b|"
            r"\bnao quero (?:mais )?(?:viver|existir|estar viv[oa])\b",
        ),
        (
            "no_reason_live",
            r"\b(?:nao (?:tenho|ha|vejo) (?:nenhum )?(?:motivo|razao|sentido) (?:para|pra|de|em) viver|"
            r"a vida nao (?:vale a pena|tem sentido)|nao vale a pena viver)\b",
        ),
        (
            "better_off",
            r"\b(?:(?:melhor|mais feliz\w*) se eu (?:estivesse mort[oa]|morresse|sumisse|nao existisse|"
            r"nao estivesse aqui)|melhor sem mim|estariam melhor sem mim|melhor (?:eu )?estar mort[oa]|"
            r"melhor mort[oa])\b",
        ),
        (
            "self_harm",
            r"\b(?:me automutil\w*|me cortar|me corto|me cortei|me cortando|me machucar|me machuco|me ferir|"
            r"cortar os pulsos)\b",
        ),
        (
            "method",
            r"\b(?:(?:tomar|tomei|fazer|ter) (?:uma )?overdose|tomar todos os remedios|pular da ponte|"
            r"pular do predio)\b",
        ),
        (
            "farewell",
            r"\b(?:minha ultima mensagem|adeus para sempre|carta de despedida|nao vou estar aqui amanha)\b",
        ),
        ("cant_go_on", r"\bnao consigo mais viver\b|\bnao aguento mais (?:viver|a vida|essa vida)\b"),
    ],
}

# Figures of speech and unrelated uses, blanked out before the signals are looked for.
FIGURATIVE: list[str] = [
    # English
    r"\b(?:die|dying|died|dead|die laughing) (?:of|from|with|because of) (?:laughter|laughing|"
    r"embarrassment|shame|cringe|boredom|cuteness|jealousy|envy|thirst|hunger|excitement|happiness|"
    r"anticipation|curiosity|secondhand embarrassment)\b",
    # Not after "if i was": "they wouldn't have to pay if i was dead lol" is not a laugh.
    r"\b(?:dying|died|(?<!if i was )(?<!if i were )dead) (?:laughing|lol|lmao|😂|🤣|💀)",
    # Not after "once" or "when": "won't need them once i'm dead" is about the future, not a laugh.
    r"\b(?<!once )(?<!when )(?<!by the time )(?:i'?m|im|i am|literally|i'?m literally) (?:dead|deceased|"
    r"dying|"
    r"ded)(?: (?:lol|lmao|lmfao|😂|🤣|💀|"
    r"rn|bro))?\b(?! inside)",
    r"\bkill(?:ing|ed|s)? (?:it|that|them|the game|this set|time)\b",
    r"\b(?:is|are|was|it'?s|its|this|they'?re|you'?re|u r) (?:literally )?(?:killing|kills|gonna kill|"
    r"going to kill) (?:me|us)\b",
    r"\b(?:would|could|'?d) kill for\b",
    r"\bmy (?:feet|back|legs|head|neck) (?:are|is) killing me\b",
    r"\b(?:my (?:sister|brother|wife|husband|girlfriend|boyfriend|gf|bf|friends?|roommate|teacher|boss)) "
    r"(?:is |are |will |'?ll )?(?:gonna |going to )?(?:literally )?(?:kill|murder) me\b",
    r"\b(?:my mom|my mum|my dad|my parents|she|he|they|mom|mum|dad|boss|teacher|coach) (?:is|are|will|"
    r"'?ll|gonna|going to) (?:literally )?kill me\b",
    r"\bsuicide (?:squad|doors?|mission|run|sprint|drill|squeeze|burpees?|king|girls|silence|boys)\b",
    r"\b(?:to die for(?! me\b| my ?self\b)|dressed to kill|die hard|die-hard|diehard|do or die|dying to"
    r" (?:know|see|try|meet|"
    r"hear|go|watch|read|tell)|my phone (?:is )?(?:dying|dead|died)|battery (?:is )?(?:dying|dead|died)|"
    r"plant(?:s)? (?:is |are )?dying)\b",
    r"\b(?:cut|cutting) (?:myself|me) (?:some slack|a slice|a piece|off|in)\b",
    r"\bhurt myself (?:laughing|at the gym|playing|lifting|running|skating|falling)\b",
    r"\b(?:i'?d rather|i would rather) die than\b",
    r"\bover my dead body\b",
    r"\bsuicide (?:bomb\w*|attack\w*|vest|rate\w*|prevention|awareness|hotline)\b",
    r"\bshoot myself in the foot\b",
    r"\b(?:accidentally )?cut myself (?:shaving|cooking|chopping|while cooking|on (?:a|the) (?:paper|"
    r"knife|glass|can|lid))\b",
    r"\bburn(?:ed|t)? myself (?:cooking|on the (?:stove|pan|oven|iron)|making|with (?:the )?(?:iron|"
    r"curling|hot))\b",
    r"\boverdos\w* on (?:caffeine|coffee|sugar|content|memes|anime|tiktok|energy drinks)\b",
    r"\bkill me now (?:lol|lmao|lmfao|😂|🙃|💀|😩|😭)",
    r"\b(?:not|never|n'?t|no longer) (?:be |being |feeling |feel )?suicidal\b",
    r"\b(?:would|will) never (?:kill|hurt) myself\b",
    r"\b(?:she|he|they|mom|mum|dad)(?:'?s|'?re|'?l) (?:literally )?(?:gonna |going to )?(?:kil|murder) me\b",
    r"\b(?:ce|cette|mon|ma|le|la) \w+ va me tuer\b|\btu m'?as tue\b",
    r"\b(?:ese|este|esa|esta|tu|el|la) \w+ me mato\b|\b(?:essa|esse|sua|tua|a|o) \w+ me matou\b|"
    r"\bvoce me matou\b",
    r"\b(?:that|this|the|your|his|her|their|it) (?:\w+ )?(?:literally )?killed me(?: (?:lol|lmao|lmfao|"
    r"haha\w*|😂|💀|🤣))?\b",
    r"\b(?:die|dying|died) (?:my|her|his|your|the) (?:hair|shirt|clothes|beard|eyebrows|jeans|eggs)\b",
    r"\b(?:makes|made|making) me (?:want to|wanna) (?:die|kill myself) (?:lol|lmao|lmfao|haha\w*|😂|💀|🤣)",
    r"\b(?:goodbye|bye) (?:everyone|everybody|all) (?:see you|see ya|cya|have a|good ?night|until|till|"
    r"for now|for today|i'?l be back|brb|talk|logging off|heading out|going to bed|gotta go|off to)",
    # Spanish
    r"\b(?:me muero|muero|morir\w*|muert[oa]s?|muriendome|muriendo) (?:de|del) (?:la |el )?(?:risa|verguenza|"
    r"hambre|"
    r"sueno|ganas|calor|frio|aburrimiento|envidia|amor|pena|miedo|sed|cansancio|nervios|emocion)\b",
    r"\b(?:me mata|me estan matando|me esta matando|me matan) (?:este|esta|estos|estas|el|la|los|las|mi|"
    r"mis)\b",
    r"\b(?:este|esta|el|la|mi) \w+ (?:me mata|me esta matando)\b",
    r"\bme (?:va|van) a matar (?:mi|mis|el|la)\b|\bmi (?:madre|mama|padre|papa|jefe|jefa) me va a matar\b",
    r"\bmuero por (?:ver|saber|ir|probar|conocer)\b",
    r"\bme mato (?:estudiando|trabajando|entrenando|de)\b",
    # French
    r"\b(?:mort|morte|morts|mourir|meurs|meurt|mourrais|mourant) (?:de|d'?) ?(?:rire|honte|faim|soif|"
    r"froid|chaud|ennui|peur|fatigue|envie|impatience)\b",
    r"\bmdr\b|\bptdr\b",
    r"\b(?:ca|cela|ce \w+|cette \w+|ces \w+|il|elle|tu) me tue(?:nt)?\b",
    r"\bma (?:mere|mere|daronne) (?:va|vas) me tuer\b|\bmon (?:pere|daron|patron) va me tuer\b",
    # German
    r"\b(?:lach(?:e)? mich (?:tot|kaputt|schlapp)|totlachen|totgelacht|sterbe? vor (?:scham|langeweile|"
    r"lachen|hunger|durst|neugier|aufregung|hitze|kalte)|fast gestorben vor (?:lachen|scham))\b",
    r"\b(?:das|der|die|es|dieser|diese|dieses) \w* ?(?:bringt|macht) mich (?:noch )?(?:um|fertig)\b",
    r"\bmeine (?:mutter|mama|chefin) bringt mich um\b|\bmein (?:vater|papa|chef) bringt mich um\b",
    # Portuguese
    r"\b(?:morrendo|morri|morro|morrer|mort[oa]) (?:de|da) (?:rir|riso|vergonha|fome|sede|sono|tedio|"
    r"saudade|calor|frio|medo|cansaco|inveja|curiosidade)\b",
    r"\b(?:esta|esse|essa|isso|este|ta) (?:\w+ )?(?:me matando|vai me matar)\b",
    r"\bminha (?:mae|chefe) vai me matar\b|\bmeu (?:pai|chefe) vai me matar\b",
    r"\bkkk+\b",
    r"\bme matando de (?:trabalhar|estudar|rir)\b",
]

# Common words per language, to tell which language a message is in when no signal names it.
STOPWORDS: dict[str, str] = {
    "en": "i the and to a is it you that of in my me this was for with not but have be so just what are",
    "es": "el la de que y en los las un una por con para es mi me no pero muy esta estoy yo lo se ya mas como"
    " voy quiero tengo pienso hoy todos nadie",
    "fr": "le la les de des et un une est je tu il elle pas ne que qui pour avec mon ma mes suis ai en au ce",
    "de": "der die das und ich du ist nicht ein eine mit mir mich zu es auf fur sich auch noch nur bin hab",
    "pt": "o a os as de do da e um uma que nao com para por eu voce meu minha estou sou mas muito ta isso pra"
    " vou em me quero tenho penso hoje todo dia ninguem",
}


def all_rules() -> dict[str, list[tuple[str, str]]]:
    """Return every signal rule per language: the phrases above, the indirect cues, the compositions."""
    composed = composed_rules()
    return {lang: [*SIGNALS[lang], *INDIRECT.get(lang, []), *composed.get(lang, [])] for lang in SIGNALS}


def all_blanks() -> list[str]:
    """Return everything blanked before the signals are looked for: figures of speech, other people's
    deaths, wishes to die that are negated or someone else's."""
    return [*FIGURATIVE, *THIRD_PERSON, *negated_wishes()]
