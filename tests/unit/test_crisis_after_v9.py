"""Families the rules learnt from held-out v9's misses and false positives, written here in other words
than v9's own messages and in languages v9 did not use them in: the rules alone (no model) must fire on
the families, and must stay quiet on the figurative, third-person, school and everyday lines near them."""

from __future__ import annotations

import pytest

from bot.safety.crisis import prepare, rule_hits

FAMILIES = [
    # giving things away, with "won't need them" some words later
    ("en", "gave my bike and all my old comics to my little brother, i won't be needing any of it"),
    ("es", "le regalé la play y todos mis libros a mi prima, ya no los voy a necesitar"),
    ("fr", "je donne ma guitare et toutes mes bd à mon voisin, j'en aurai plus besoin"),
    ("de", "verschenke meine bücher an meine schwester, brauch ich ja bald eh nicht mehr"),
    ("pt", "dei meu violão e meus livros pro meu irmão, não vou precisar mais"),
    # hurting oneself with an instrument, or again
    ("en", "cut myself with a razor again last night"),
    ("es", "me quemé los brazos con el mechero"),
    ("fr", "je me suis brûlé le bras avec un briquet hier"),
    ("de", "hab mich wieder mit dem feuerzeug verbrannt"),
    ("pt", "me cortei com gilete de novo ontem"),
    # a method question "for me", not for fiction; how much to not wake up
    ("en", "easiest way to die for me, asking for real"),
    ("es", "cuántas pastillas hacen falta para no despertarse, es para mí"),
    ("de", "wie viele tabletten braucht man um nicht mehr aufzuwachen"),
    ("pt", "quantos comprimidos precisa pra não acordar mais"),
    # having bought the rope
    ("en", "finally got the rope"),
    ("es", "ya tengo la soga"),
    ("fr", "j'ai acheté la corde hier"),
    ("de", "das seil hab ich schon gekauft"),
    ("pt", "já comprei a corda"),
    # if I'm not here on a day, you know why; don't look for me after a goodbye
    ("en", "if im not online tomorrow you all know why"),
    ("es", "si el lunes no aparezco ya sabrán por qué"),
    ("fr", "si je réponds plus demain vous saurez pourquoi"),
    ("de", "wenn ich morgen nicht mehr online bin wisst ihr warum"),
    ("pt", "se eu sumir amanhã vocês já sabem o porquê"),
    ("en", "bye everyone, please dont come looking for me"),
    # it is not your (plural) fault, with a farewell
    ("en", "none of this is any of your faults, take care of each other"),
    ("es", "no es culpa de ustedes, cuídense mucho"),
    ("fr", "c'est pas votre faute, prenez soin de vous"),
    ("pt", "não é culpa de vocês, se cuidem"),
    # others would be spared something if I were dead; getting out of everyone's way
    ("en", "my sister wouldn't have to look after me anymore if i were gone"),
    ("es", "mejor me quito de en medio y así no molesto a nadie"),
    ("fr", "si j'étais mort mes parents n'auraient plus à payer pour moi"),
    ("de", "wenn ich tot wäre müssten meine eltern nicht mehr für mich zahlen"),
    ("pt", "se eu morresse ninguém teria que me aguentar"),
    # a misspelt "die"
    ("en", "i wanna dei tbh"),
    # not reaching a time ahead, and having decided
    ("en", "i dont see myself making it to 25 and honestly im fine with that"),
    ("es", "no me veo llegando a navidad, ya está decidido"),
    ("fr", "je compte pas être encore vivant à mon anniversaire"),
    ("de", "ich hab nicht vor, an silvester noch da zu sein"),
    ("pt", "não pretendo chegar no meu aniversário, já decidi"),
    # everything planned for a day, said and nothing more
    ("en", "its all planned for sunday"),
    ("es", "ya planeé todo para el sábado"),
    ("fr", "tout est prévu pour dimanche"),
    ("de", "ist alles für sonntag geplant"),
    ("pt", "tá tudo planejado pro domingo"),
    # letters to the family, and where they are
    ("en", "wrote a letter for my mom, its in my desk drawer"),
    ("es", "escribí una carta para mis padres, está en mi cuarto"),
    ("de", "hab einen brief für meine eltern geschrieben, liegt in meinem zimmer"),
    ("pt", "escrevi uma carta pros meus pais, tá no meu quarto"),
    # medication put aside, "enough now"
    ("fr", "j'ai mis des cachets de côté"),
    ("en", "i think i have enough pills saved now"),
    ("es", "aparté unas pastillas, creo que ya tengo suficientes"),
    # hoping not to wake up, German verb second
    ("de", "hoffentlich wach ich nicht mehr auf"),
    ("es", "ojalá no me despierte mañana"),
    # the will to live gone, in dialect and slang
    ("fr", "j'ai perdu le goût de vivre"),
    ("de", "hab keine lust mehr zu leben"),
    ("de", "i ha kei bock meh z läbe"),
    ("es", "me harté de vivir, en serio"),
    ("pt", "tô farta de viver"),
    ("pt", "perdi a vontade de viver"),
    # wanting a car to hit one
    ("en", "i kinda want a bus to hit me"),
    ("es", "quisiera que un camión me arrollara"),
    ("pt", "quero que um ônibus me atropele"),
    ("fr", "je voudrais qu'une voiture me renverse"),
    ("de", "wünschte, mich würde ein lkw überfahren"),
    # putting an end to one's life
    ("pt", "penso em pôr fim à minha vida"),
    ("es", "he pensado en poner fin a mi vida"),
    # v9's messages the model caught and no rule did, by family: how easy it would be from a high place,
    # a truck that would "just" hit one, planning how to end it, would anyone care if I jumped
    ("en", "standing on the balcony thinking how easy it would be to just let go"),
    ("es", "en la azotea no paro de pensar en tirarme"),
    ("de", "auf dem dach hab ich wieder gedanken runterzuspringen"),
    ("pt", "na ponte pensei como seria fácil pular"),
    ("en", "praying some bus would just run me over"),
    ("en", "been planning out how i'd do it"),
    ("es", "llevo semanas planeando cómo hacerlo"),
    ("pt", "tô planejando como acabar com tudo"),
    ("en", "if i died tomorrow would anybody notice"),
    ("fr", "si je meurs demain qui le remarquerait"),
    ("de", "ich glaub nicht dass ich nächstes jahr noch erlebe"),
    ("es", "quisiera dejar de existir"),
    ("en", "they wouldn't have to worry about me if i were dead lol"),
]

NOT_A_CRISIS = [
    # embarrassment
    ("en", "so embarrassing, i wanted to die when i tripped on stage"),
    ("es", "qué oso, me quería morir cuando se me cayó la bandeja"),
    ("fr", "la honte, je voulais mourir quand je suis tombé devant tout le monde"),
    ("pt", "que vergonha, eu queria morrer quando caí na frente dela"),
    # someone else's attempt
    ("es", "mi prima intentó suicidarse hace dos años y hoy está bien"),
    ("fr", "mon oncle a tenté de se suicider l'an dernier, il va mieux"),
    ("pt", "meu amigo tentou se matar ano passado, agora está melhor"),
    ("de", "mein freund hat versucht sich umzubringen, jetzt geht es ihm besser"),
    # disappearing for a weekend
    ("en", "i want to disappear for the weekend lol, off to the lake"),
    ("es", "quiero desaparecer este finde, me voy a la playa sin wifi"),
    ("de", "ich will übers wochenende einfach verschwinden, ab in die berge"),
    ("pt", "quero sumir esse fim de semana, vou pra praia"),
    # school and research
    ("en", "for my psychology essay i need data on self harm among teenagers"),
    ("es", "para mi trabajo de clase necesito datos sobre autolesiones en adolescentes"),
    ("pt", "pro meu trabalho da facul preciso de fontes sobre automutilação em jovens"),
    ("de", "für die hausarbeit suche ich studien zu selbstverletzung bei jugendlichen"),
    # reading, the news, helplines, someone else's attempt, named with the bare word
    ("en", "in class we're reading Camus on suicide and the absurd"),
    ("en", "did you see the news about the singer's suicide"),
    ("es", "el número de la línea de prevención es el 024, para conducta suicida"),
    ("de", "meine tante hatte vor jahren einen suizidversuch"),
    ("en", "is it covered by insurance if it's an accident"),
    # everyday lines near the new families
    ("en", "bought a rope for the hammock"),
    ("en", "my daughter wants a jump rope for her birthday"),
    ("es", "tengo todo planeado para el viernes, vamos a la playa"),
    ("fr", "j'ai tout prévu pour samedi, gâteau et ballons"),
    ("en", "a chocolate cake to die for"),
    ("es", "no creo que llegue a fin de mes con este sueldo"),
    ("en", "i dont think ill make it to the party tonight"),
    ("en", "selling my old desk, i wont be needing it after the move"),
    ("fr", "j'ai pas l'intention d'être là à la réunion de demain"),
    ("de", "ich wach nachts nicht mehr auf seit ich yoga mache"),
    ("en", "burned myself on the stove again lol"),
    ("es", "me estoy rayando con el examen"),
]


@pytest.mark.parametrize(("locale", "text"), FAMILIES)
def test_the_v9_families_fire_on_the_rules_alone(locale: str, text: str) -> None:
    hits = rule_hits(prepare(text))
    assert hits, text
    assert locale in {lang for lang, _ in hits}


@pytest.mark.parametrize(("locale", "text"), NOT_A_CRISIS)
def test_figurative_third_person_and_school_talk_does_not_fire_on_the_rules_alone(
    locale: str, text: str
) -> None:
    assert not rule_hits(prepare(text)), (locale, text)
