"""The detector's word list: words, stems (``word*``), phrases and emoji, each with a label and a weight.

Written for chat, not prose: slang, common misspellings and emoji sit beside the dictionary words.
Weights say how sure a cue is on its own (1.0 a clear cue, 0.5 a hint such as "lol" or "tired").
Entries are separated by ``|`` so a phrase can hold spaces; a trailing ``*`` matches any ending.
"""

from __future__ import annotations

from collections.abc import Iterator

_ENTRIES: dict[str, dict[float, str]] = {
    "joy": {
        1.4: "got into|moving back|better than i hoped|better than expected|life is good|pretty good"
        "|so good|said yes|good news|passed my|passed the|💍|melting|heart is full|so cute"
        "|too cute|made my whole day|made my week|best thing ever|so much fun|too good|the best"
        "|love my|love love|so happy|sooo happy|best day|love this|love it|love u|love you"
        "|made my day|can't stop smiling|cant stop smiling|over the moon|on cloud nine"
        "|finally did it|we did it|i did it|nailed it|killed it|killing it|crushed it|so proud"
        "|great news|feeling great|feel great|feeling good|feel good|feel amazing|feeling amazing"
        "|so excited|sooo excited|can't wait|cant wait|😍|🥰|🥳|🎉|😁|😄|😊|☺️|☺|🤩|💖|❤️|❤|💕|🙌|😃|😆|🤗",
        1.0: "adopted|adopting|kitten|puppy|yum|yummy|delicious|tasty|cozy|stoked|whoo|yippie|nailed"
        "|nailing|crushing|yippee|hurray|whoop*|glee*|fab|fabulous|magical|wholesome|adorable"
        "|cutest|cute|blissful|bliss|lucky|rejoice|psyched|comfy|relaxed|peaceful|happiest|treat"
        "|party|disney|vacation|holiday|weekend plans|happy|happi*|glad|joy*|delight*|thrill*"
        "|excit*|yay*|yey|woo*|wooh*|hooray|awesome|amazing|wonderful|fantastic|great|grateful"
        "|thankful|blessed|proud|celebrat*|love|loving|lovely|hyped|hype|pumped|lit|fire|pog"
        "|poggers|ecstatic|cheerful|elated|content|enjoy*|fun|beautiful|perfect|brilliant|yess*"
        "|yas*|yasss*|woot|finally|relieved|relief|blast|gorgeous|smiling|smile*|grin*|laugh*"
        "|accepted|promoted|passed|won|win|winning|aced|hired|engaged|sweet|dope|epic|goated"
        "|slaps|banger|vibing|vibin|thank*|thx|ty|tysm|congrat*|glorious|superb|incredible"
        "|excellent|🙂|😀|😂|🤣|👍|✨|💪|🔥|🌞|😎|💯",
        0.5: "lol|lmao|lmfao|haha*|hehe*|xd|rofl|nice|cool|good|fine|ok nice|neat|best|better|win*|like",
    },
    "sadness": {
        1.4: "feels heavy|so heavy|doesn't matter|doesnt matter|nothing matters|seem to matter"
        "|seems to matter|get out of bed|used to be|bad news|don't feel like myself"
        "|dont feel like myself|mess everything up|messing everything up|messed everything up"
        "|recognise me|recognize me|give up my|she passed|he passed|they passed|still hurts"
        "|won't make it|wont make it|doesnt think|what's the point|whats the point|kill myself"
        "|want to die|wanna die|end it all|end my life|suicidal|suicide|self harm|hurt myself"
        "|cut myself|no reason to live|better off without me|left me|stopped talking to me"
        "|hard week|rough week|bad week|awful week|goes wrong|go wrong|went wrong|never works out"
        "|ever works out|my fault|all my fault|reminds me of|wish things were|ran away|passed on"
        "|let me down|let down|not the same|miss you|miss u|tired of feeling|giving up|gave up"
        "|can't do anything right|cant do anything right|nothing goes right|heavy heart"
        "|so much pain|so sad|feel sad|feeling sad|feel down|feeling down|feel like crap"
        "|feel like shit|feel awful|feel terrible|feeling terrible|feeling awful|want to cry"
        "|wanna cry|gonna cry|can't stop crying|cant stop crying|broke my heart|broken heart"
        "|heart hurts|fell apart|falling apart|passed away|put down|broke up|dumped me|break up"
        "|lost my|rough day|bad day|worst day|hard day|shit day|crappy day|not okay|not ok"
        "|not good|not great|not fine|no motivation|so tired of|i give up|miss him|miss her"
        "|miss them|miss my|hate my life|low today|feeling low|feel low|feel empty|feeling empty"
        "|feel numb|feeling numb|feel blue|feeling blue|😢|😭|😞|😔|💔|🥺|😿|☹️|☹|🙁|😥|😪",
        1.0: "heavy|sick|vet|grieve|hurts|rejected|lost|alone and sad|dumped|low|lows|sorrowful|aching"
        "|ache|pain|painful|grieving|loss|lonesome|gutted|crushed|crushing|wrecked|shattered"
        "|breakup|divorc*|tragic|tragedy|rejection|melancholy|bleak|sad|saddd*"
        "|sadd*|unhappy|depress*|cry|cried|cries|crying|cryin|sob*|tears|teary|miserable"
        "|heartbroken|heartbreak*|grief|griev*|mourn*|hopeless|hurt*|hurting|upset|gloomy"
        "|bummed|bummer|devastat*|disappoint*|sorrow*|losing|failed|fail*|awful|terrible|worst"
        "|sucks|suck|crap|crappy|meh|blah|numb|empty|drained|exhausted|broken|regret*|funeral"
        "|died|dead|rip|ruined|pointless|worthless|lowkey sad|sigh|*sigh*|defeated|weep*"
        "|unmotivated",
        0.5: "down|tired|miss|missed|missing|bad|hard|rough|ugh|oof|welp|unfortunately|sorry|why me|never",
    },
    "anger": {
        1.4: "should be banned|didn't even say sorry|didnt even say sorry|calm down|took credit"
        "|spreading lies|spreading rumors|skipped my|parking ticket|keeps charging|keep charging"
        "|so broken|nobody does anything|no one does anything|nobody listens|no one listens"
        "|who does that|are you kidding|you kidding me|cut me off|about to lose it|lose my mind"
        "|losing it|punch a wall|punch something|throw my phone|makes my blood boil|so over it"
        "|over it|had it with|get on my nerves|gets on my nerves|on my last nerve|no respect"
        "|without asking|for no reason|keeps interrupting|trash|garbage|is a joke|such a joke"
        "|what a joke|so mad|so angry|pissed off|fed up|sick of|sick and tired|sick n tired"
        "|had enough|drives me crazy|driving me crazy|pisses me off|makes me mad|makes me angry"
        "|so done with|what the hell|wtf is|how dare|shut up|screw this|screw you|fuck this"
        "|fuck you|fuck off|fk this|f this|i hate|i hate it|hate this|hate him|hate her|hate them"
        "|hate when|not fair|so unfair|can't stand|cant stand|losing my mind|lost my temper|😡|🤬|😠"
        "|👿|💢|🖕",
        1.0: "again|lies|lying|banned|blamed|credit|overcharged|ticket|inconsiderate"
        "|disrespect*|refuse*|refund|interrupt*|selfish|obnoxious|entitled|unbearable|trashy"
        "|pathetic|clown|clowns|useless|scammed|scammer|robbed|robbery|heated|punch|slap|kick"
        "|smash|stole|steal|stealing|cheating|blame*|insult*|mock*|spam*|harass*|bully|bullied"
        "|bullying|yell*|scream*|hmph|tsk|pfft|gtfo|stfu|screwed|angry|angr*|mad|furious|fuming"
        "|rage|raging|enraged|pissed|pissy|annoy*|irritat*|frustrat*|hate|hated|hates|hating"
        "|livid|outrag*|infuriat*|resent*|disgust*|unfair|unacceptable|ridiculous|stupid|idiot*"
        "|dumb|moron*|jerk|asshole|bastard|bs|bullshit|ffs|smh|wtf|wth|damn|dammit|damnit|screw"
        "|bitter|hostile|grr*|argh*|ugh|seething|triggered|salty|toxic|scam*|rude|liar|lied"
        "|betray*|cheated|yelled|yelling|screamed|screaming",
        0.5: "fuck*|fck*|shit|hell|crap|seriously|again?!|worst|ignored",
    },
    "fear": {
        1.4: "heart is pounding|heart pounding|something bad|going to happen|gonna happen"
        "|going to mess up|gonna mess up|mess up the|pass out|scaring me|scares me|what if"
        "|i'm worried|im worried|so worried|lost my passport|dread feelings|keeps me awake"
        "|bad feeling|knots|in knots|sick with nerves|worried sick|butterflies in my stomach"
        "|cold sweat|can't calm down|cant calm down|what if i|what if they|what if it|what if he"
        "|what if she|freaking out|freakin out|panic attack|so scared|so nervous|so anxious"
        "|scared of|afraid of|terrified of|can't breathe|cant breathe|heart racing"
        "|heart is racing|can't sleep|cant sleep|keeps me up|on edge|losing sleep|stressing out"
        "|stressed out|dreading|i'm scared|im scared|😨|😰|😱|😟|😧|😬|😖|😣",
        1.0: "scaring|pounding|deadline|deadlines|flight|flying|planes|dreads|worried|scared|afraid"
        "|nervous|anxious|nightmare*|fright*|horror|alarm*|nerves|jitters|edgy|restless|trembl*"
        "|sweating|petrified|dreadful|apprehensive|concerned|concern|unsure|doubt*|vulnerable"
        "|helpless|danger*|risky|hacked|layoff*|evict*|surgery|diagnos*|scary|scare*|fear*"
        "|frighten*|terrif*|anxiety|worry|worries|worrying|panic*|dread*|stress*|tense|uneasy"
        "|jittery|shaking|shaky|paranoid|overwhelm*|spooked|creepy|horrified|phobia|threat*"
        "|unsafe|insecure|uncertain|overthink*|nervy|jumpy|spiral*|anxiou*|nervou*|worri*|scard"
        "|skared|afriad|panik",
        0.5: "exam|exams|interview|test|results|doctor|hospital|biopsy|diagnosis|alone at night"
        "|dentist|appointment",
    },
    "surprise": {
        1.4: "blew my mind|blow my mind|world is ending|actually showed up|im speechless"
        "|i'm speechless|nobody told me|no one told me|i never win|by herself|by himself"
        "|where is everyone|who knew|of all things|since when|what are the odds|see that coming"
        "|saw that coming|seen that coming|hold up|hold on what|didnt know|didn't know"
        "|did not know|had no idea|is this real|is that real|for real?|fr?|im shook|i'm shook"
        "|i am shook|than i thought|than i expected|wait really|really just happen"
        "|out of the blue|who would have thought|who would've thought|caught me off guard"
        "|took me by surprise|never knew|just learned|turns out|apparently|no way|wait what"
        "|can't believe|cant believe|didn't expect|didnt expect|did not expect|out of nowhere"
        "|plot twist|what?!|what!?|omg what|holy cow|holy shit|holy crap|no freaking way"
        "|never expected|never thought|of all people|just found out|you won't believe"
        "|u wont believe|mind blown|mind = blown|jaw dropped|😲|😮|😯|🤯|😳|😦|🙀|‼️|⁉️",
        1.0: "shocked|speechless|pregnant|raffle|shook|shooketh|gasp*|wait|woww*|whoah|ayo|yooo*"
        "|damn what|dayum|sheesh|jeez|jeez*|geez|nani|wha|odd|strange|weird|weirdly|random"
        "|bizarre|plot|twist|??|?!|wow|woah|whoa|wowza|omg|omfg|surpris*|shock*|stunn*|astonish*"
        "|amaz*|unexpected*|suddenly|unbelievable|wtf|wut|bruh|whaaat*|whaat*|what??|really?!"
        "|seriously?!|yo|dang|omggg*|omgg*|huh|unreal|insane|wild|crazy|randomly",
        0.5: "really?|seriously?|actually|sudden",
    },
    "loneliness": {
        1.4: "know anyone|don't know anyone|dont know anyone|wish i had a|only conversation"
        "|really have friends|have friends|lonely night|never buzzes|phone never"
        "|everyone moved out|everyone left|call me|someone to hug|someone to talk|include me"
        "|talk to anyone|talked to anyone|hang out without me|without me again|talks to me"
        "|talk to me anymore|text me|texts me|checks on me|check on me|never calls|never call"
        "|third wheel|fifth wheel|belong anywhere|don't belong|dont belong|sat with me"
        "|sit with me|only one i talk to|only person i talk to|have anyone|don't have anyone"
        "|dont have anyone|have no one|have nobody|a friend to|no friends|any friends"
        "|haven't seen a friend|havent seen a friend|seen anyone|spoken to anyone|miss people"
        "|miss my friends|nobody answers|no one answers|ignores me|ignore me|without me|except me"
        "|never included|alone all the time|always alone|alone again|so lonely|so alone|all alone"
        "|feel alone|feeling alone|feel lonely|feeling lonely|no one to talk to|nobody to talk to"
        "|no one cares|nobody cares|no one gets me|nobody gets me|have no friends|got no friends"
        "|left out|by myself|on my own|no one texts|nobody texts|no one messaged|nobody messaged"
        "|no one called|nobody called|no one showed|nobody showed|no one remembered"
        "|nobody remembered|forgot my birthday|forgot about me|forgotten about|feel invisible"
        "|feel isolated|feeling isolated|miss having|wish i had someone|wish i had friends"
        "|no one around|nobody around|sat alone|eat alone|eating alone|ate alone|alone tonight"
        "|alone on|just me|no one to hang|nobody to hang|everyone has someone"
        "|all my friends are busy|left on read|ghosted me|got ghosted|no one noticed"
        "|nobody noticed|no one invited|nobody invited|not invited|didn't invite|didnt invite"
        "|wasn't invited|wasnt invited|only friend|talk to nobody|no one to share",
        1.0: "isolating|lonesome|alienated|disconnected|unseen|unheard|unnoticed|overlooked|distant"
        "|silence|solitude|hermit|lonely|lonelyy*|loney|lonley|lonliness|loneliness|alone"
        "|isolated|isolation|ignored|invisible|forgotten|excluded|abandoned|friendless|unwanted"
        "|unloved|outcast|loner|ghosted|solitary",
        0.9: "nobody|noone|no one",
        0.5: "miss|missing|empty apartment|empty house|quiet house|weekend",
    },
    "neutral": {
        1.0: "fun fact|favourite color|favorite color|what's your favourite|whats your favourite"
        "|what's your favorite|whats your favorite|appointment|recipe|recommend|how do i"
        "|how do you|what time|what's the|whats the",
    },
}


def entries() -> Iterator[tuple[str, str, float]]:
    """Yield every (cue, label, weight); a cue is a word, a ``stem*``, a phrase or an emoji."""
    for label, groups in _ENTRIES.items():
        for weight, text in groups.items():
            for cue in text.split("|"):
                cue = cue.strip()
                if cue:
                    yield cue, label, weight
