/**
 * Built-in English rules. Weights: ≥ 0.6 flags on its own (explicit threats, instructions, slurs,
 * first-person intent); 0.2–0.45 is a topic word that flags only beside other evidence, because news,
 * medicine and programming use it too ("killed in the crash", "overdose", "kill the process").
 * Slurs live in en-slurs.ts, encoded so that the source does not spell them out.
 */
import type { ExceptionGroup, RuleGroup } from "../rule-set.ts";
import {
  ANYONE,
  CRIMINALS,
  EXTERMINATE,
  GROUP_MEMBER,
  GROUPS,
  HOW,
  I_AM,
  I_WILL,
  INSULTS,
  VERMIN,
  WE_WILL,
  WEAPONS,
  YOU,
  YOU_ARE,
} from "./en-vocabulary.ts";
import { AMBIGUOUS_SLURS, STRONG_SLURS } from "./en-slurs.ts";

const HARASSMENT: RuleGroup[] = [
  {
    category: "harassment",
    weight: 0.8,
    phrases: [
      `${YOU_ARE} (a |an |such a |such an |a total |an absolute )?${INSULTS}`,
      `${YOU_ARE} (so |a fucking |a complete |nothing but a |just a |such a fucking )${INSULTS}`,
      `(your|ur) (a|an|such a|such an|a fucking) ${INSULTS}`,
      "(you|u) (stupid|dumb|fat|ugly|worthless|pathetic|useless|fucking|little) (idiot|moron|loser|bitch|cunt|whore|slut|pig|cow|piece of shit|retard|asshole|twat|freak)",
      "(fuck|fuk|fck|f) (you|u|ya|off|yourself|urself)",
      "go fuck yourself",
      "shut the fuck up",
      "(stfu|gtfo)",
      "(screw you|screw u|eat shit|eat shit and die)",
      "(nobody|no one|noone) (likes|loves|cares about|wants) (you|u)",
      "(everyone|everybody) hates (you|u)",
      "(you|u) (disgust|sicken) me",
      "(you|u) should be ashamed of (yourself|urself)",
      "(suck|sucks) to be (you|u)",
      "(ugly|fat|dumb|stupid) (bitch|cunt|whore|slut|cow|pig|retard)",
      "son of a (bitch|whore)",
      "piece of (shit|crap|garbage|trash)",
      "(your|ur) (mom|mother|mama|momma) is (a )?(whore|slut|hoe|fat)",
      "die in a (fire|ditch|hole)",
      "(i|we) hate (you|u) so much",
    ],
  },
  {
    category: "harassment",
    weight: 0.55,
    phrases: [
      "(dumbass|jackass|asshole|arsehole|dickhead|douchebag|shithead|cocksucker|motherfucker|motherfucking|wanker|twat)(s)?",
      "(cunt|cunts|retard|retards|retarded)",
      "(bitch|bitches|whore|whores|slut|sluts|skank|skanks)",
      "go to hell",
      "(i|we) hate (you|u)",
      "(you|u) (suck|stink)",
      "(loser|losers) like (you|u)",
    ],
  },
  {
    category: "harassment",
    weight: 0.35,
    phrases: ["(idiot|idiots|moron|morons|imbecile|imbeciles|bastard|bastards|scumbag|scumbags)", "shut up", "(pathetic|worthless) (loser|excuse)"],
  },
];

const THREATS: RuleGroup[] = [
  {
    category: ["harassment/threatening", "violence"],
    weight: 0.85,
    phrases: [
      `${I_WILL} (kill|murder|stab|strangle|rape|behead|torture|slaughter|butcher|execute|poison|drown|choke|lynch|shoot) ${ANYONE}`,
      `${WE_WILL} (kill|murder|stab|strangle|rape|behead|torture|slaughter|butcher|execute|poison|drown|lynch|shoot) ${ANYONE}`,
      `${I_WILL} (hurt|punch|end|burn|gut|skin|cut up|beat up|beat the shit out of|kick the shit out of|bash in|smash in) ${YOU}`,
      `${I_WILL} (hunt|track) (you|u|ya) down`,
      `${I_WILL} (kill|murder|stab|shoot) (you|u) and (your|ur) (family|kids|children|wife|husband|mom|dog)`,
      "i know where (you|u) (live|sleep|work|go to school)",
      "i know where (your|ur) (kids|children|family) (live|go to school|are)",
      `${YOU_ARE} (dead|going to die|gonna die|a dead man|dead meat|as good as dead)`,
      "(you|u) (will|'ll|gonna|are going to) (die|be dead|pay with your life) (tonight|tomorrow|soon|for this)",
      `${I_WILL} (put|send) (you|u) (in|to|into) (the )?(hospital|grave|morgue|ground|ICU)`,
      "(a )?(bullet|knife|blade) (in|through) (your|ur) (head|skull|chest|back|heart|throat)",
      "(blow|blowing) (your|ur) (head|brains|face) off",
      "(slit|cut|slice|slash) (your|ur) (throat|neck)",
      "(cut|rip|chop) (your|ur) (head|tongue|heart) (off|out)",
      "(break|snap) (your|ur) (legs|neck|face|jaw|arms|bones|fingers|skull)",
      "(beat|kick|stomp) (you|u) to death",
      "i hope (you|u) (die|get cancer|get raped|burn|get shot|get hit by a (car|bus|truck)|rot)",
      "(hope|wish) (you|u) (die|were dead|get killed)",
      "(your|ur) days are numbered",
    ],
  },
  {
    category: "harassment/threatening",
    weight: 0.6,
    phrases: [
      "watch (your|ur) back",
      "sleep with one eye open",
      `${I_WILL} make (you|u) (pay|suffer|regret (it|this)|bleed)`,
      "(you|u) (will|'ll|are going to|gonna) regret (this|it|that|crossing me)",
      "(i|we)('ll| will| are| am|'re|'m) (coming|come) for (you|u)",
      "(you|u) (better|should) watch (out|yourself)",
      "(something|accidents) (bad )?(might|could|will) happen to (you|u|your family|your kids)",
    ],
  },
];

const HATE: RuleGroup[] = [
  {
    category: "hate",
    weight: 0.8,
    phrases: [
      `(all )?${GROUPS} (are|r) (all |just |nothing but |literally )?${VERMIN}`,
      `(all )?${GROUPS} (are|r) (all |just |nothing but )?${CRIMINALS}`,
      `(i )?(hate|despise|loathe) (all )?(the |those |these )?${GROUPS}`,
      `${GROUPS} (don't|do not|dont) deserve (rights|respect|to vote|to be here|to be treated like humans)`,
      `${GROUPS} (should|must|need to) (go back to|get out of|be banned from) (their|our|this|your)`,
      `(send|ship|kick) (all )?(the |those |these )?${GROUPS} back`,
      "(subhuman|sub human) (filth|scum|vermin|race|animals)",
      "(inferior|mongrel|mud) (race|races|people|blood)",
      "(white|racial|aryan) (supremacy|power|race) (forever|now|is the answer)",
      "(go back to|get back to) (your|ur) (own )?(country|countries|jungle|desert|cave|shithole)",
      "(jewish|jew) (conspiracy|bankers control|media control|question)",
    ],
  },
  // Slurs (en-slurs.ts) are phrases like the rest, so the automaton finds them in the same pass.
  { category: "hate", weight: 0.7, phrases: [STRONG_SLURS] },
  {
    category: "hate",
    weight: 0.4,
    phrases: [AMBIGUOUS_SLURS, "(1488|14 88|rahowa|zog)", "(great replacement|white genocide)"],
  },
];

const HATE_THREATS: RuleGroup[] = [
  {
    category: ["hate/threatening", "violence"],
    weight: 0.85,
    phrases: [
      `(kill|exterminate|gas|lynch|hang|shoot|slaughter|massacre|eradicate|wipe out|burn|purge|eliminate|genocide) (all )?(the |those |these )?${GROUPS}`,
      `(all )?${GROUPS} (should|must|need to|deserve to|ought to) ${EXTERMINATE}`,
      `death to (all )?(the )?${GROUPS}`,
      `the only good ${GROUP_MEMBER} is a dead (one|${GROUP_MEMBER})`,
      `${GROUPS} (belong|go) in (the )?(gas chambers|ovens|camps)`,
      `(race war|holy war) (now|is coming|against the ${GROUPS})`,
      "day of the rope",
      "(gas|oven) the (jews|kikes)",
    ],
  },
  {
    category: "hate/threatening",
    weight: 0.35,
    phrases: ["(ethnic cleansing|final solution|race war)"],
  },
];

const ILLICIT: RuleGroup[] = [
  {
    category: "illicit",
    weight: 0.8,
    phrases: [
      `${HOW} (shoplift|steal from (a |the )?(store|shop|supermarket|walmart|target)|steal (a )?car|steal cars|hotwire (a )?car|break into (a |someone's )?(house|home|car|apartment))`,
      `${HOW} (launder money|launder cash|evade taxes|avoid paying taxes illegally|cook meth|make meth|make crack|make lsd|make heroin|grow weed without getting caught)`,
      `${HOW} (sell drugs|smuggle drugs|smuggle (cocaine|heroin|weed)|buy drugs|buy cocaine|buy heroin|buy meth|ship drugs|sneak drugs (past|through))`,
      `${HOW} (make counterfeit money|counterfeit money|print fake money|forge (a )?(signature|passport|check|cheque|document|prescription|id)|make (a )?fake (id|passport|driver's license))`,
      `${HOW} (hack (into )?(someone's|somebody's|my ex's|my girlfriend's|my boyfriend's|a|an|their) (account|email|phone|facebook|instagram|snapchat|wifi|bank account|computer))`,
      `${HOW} (steal (someone's |a )?identity|steal credit card (numbers|info|details)|clone (a )?credit card|skim credit cards|use stolen credit cards)`,
      `${HOW} (commit (fraud|insurance fraud|tax fraud|identity theft|wire fraud)|scam (people|old people|the elderly|grandparents)|run a ponzi scheme)`,
      `${HOW} (make ransomware|spread malware|write (a )?keylogger|create (a )?phishing (page|site|email)|ddos (a |someone's )?(website|server)|dox (someone|somebody|a person))`,
      `${HOW} (bribe (a|an|the) (official|cop|police officer|judge|inspector)|embezzle|cheat (on )?(the|an|my) (exam|test) without getting caught)`,
      `${HOW} (get away with|avoid getting caught) (stealing|shoplifting|theft|fraud|tax evasion|selling drugs|drunk driving)`,
      "(buy|order|get) (weed|cocaine|coke|heroin|meth|mdma|ecstasy|lsd|fentanyl|xanax|oxy|oxycodone|adderall|ketamine) (online|without (a )?prescription|no prescription|on the dark web|from the darknet)",
      "(credit card|cc|cvv) (dumps|fullz)",
      "(carding|phishing|ransomware|exploit) (kit|kits|tutorial|method|forum|as a service)",
      "(botnet|ddos) for (hire|rent|sale)",
      "(fake|counterfeit) (passports|ids|id cards|driver's licenses|banknotes|money|bills) for sale",
      "(stolen|hacked) (credit cards|accounts|identities|bank logins) for sale",
      "(bypass|evade|avoid) (kyc|aml|the background check|sanctions|customs) (checks )?(without getting caught|undetected)",
    ],
  },
  {
    category: "illicit",
    weight: 0.35,
    phrases: [
      "without getting caught",
      "(dark web|darkweb|darknet) (market|marketplace|vendor|vendors|link|links)",
      "(stolen credit card|stolen credit cards|fake id|fake ids|counterfeit money|counterfeit bills|meth lab)",
      "(money laundering|shoplifting|tax evasion|identity theft|drug dealing|drug trafficking)",
      "(keygen|warez|cracked software)",
    ],
  },
];

const ILLICIT_VIOLENT: RuleGroup[] = [
  {
    category: "illicit/violent",
    weight: 0.85,
    phrases: [
      `(make|build|assemble|construct|create|cook|brew) (a |an |my own |your own |homemade )?${WEAPONS}`,
      `(synthesize|synthesise|manufacture|3d print|making|building|assembling) (a |an |my own |your own |homemade )?${WEAPONS}`,
      `(recipe|recipes|instructions|blueprint|blueprints|tutorial|guide|formula|plans|schematics|diagram) (for|for making|for building|to make|to build|on making|on building|on how to make|on how to build) (a |an )?${WEAPONS}`,
      "(buy|get|obtain|purchase|acquire) (a |an )?(gun|guns|firearm|firearms|handgun|pistol|rifle|ar 15|ar15|ak 47|ak47|weapon|glock) (without (a )?(background check|license|licence|permit|paperwork|id|serial number)|illegally|off the books|with no background check)",
      "(untraceable|unregistered|unserialized|stolen) (gun|guns|firearm|firearms|pistol|pistols|rifle|rifles|weapon|weapons) for sale",
      "(convert|converting|turn) (a |an |my )?(ar 15|ar15|ar|glock|rifle|semi auto|semi automatic|semiautomatic) (to|into) (full auto|fully automatic|automatic|a machine gun)",
      "(hire|hiring|find|pay) (a )?(hitman|hit man|contract killer|assassin)",
      "(untraceable|undetectable|tasteless) poison",
      `${HOW} (poison|kill|murder|strangle|drown|stab|shoot) (someone|somebody|a person|my (wife|husband|boss|neighbor|neighbour|ex|father|mother|dad|mom|teacher|classmate|roommate))`,
      "(poison|kill|murder) (someone|somebody|my (wife|husband|boss|neighbor|neighbour|ex)) without (getting caught|leaving (a )?trace)",
      `${HOW} (dispose of|get rid of|hide|dissolve) (a |the )?(body|corpse|dead body)`,
      "(plan|planning|carry out|carrying out|pull off) (a |an )?(school shooting|mass shooting|terrorist attack|terror attack|bombing|massacre|car ramming attack)",
    ],
  },
  {
    category: "illicit/violent",
    weight: 0.3,
    phrases: ["(3d printed gun|3d printed guns|ghost gun|ghost guns|auto sear|pipe bomb|pipe bombs|molotov cocktail|molotov cocktails|nerve agent)"],
  },
];

const SELF_HARM: RuleGroup[] = [
  {
    category: "self-harm",
    weight: 0.6,
    phrases: [
      "(pro ana|pro mia|thinspo|thinspiration|bonespo|meanspo)",
      "(slit|slitting|slashed|slashing) (my|her|his|their) wrists",
      "(cut|cutting|slit|slitting|slice|slicing) (my|her|his|their) (wrists|wrist|arms|thighs)",
      "(razor|razor blade|blade) (on|to|against) my (skin|wrist|wrists|arm|arms|thigh|thighs)",
      "(burn|burning|burned) myself (on purpose|with (a )?(lighter|cigarette|cigarettes))",
      "(relapse|relapsed|relapsing) (on|into) (self harm|cutting)",
      "(suicide|suicidal) (note|pact|plan|method|methods)",
    ],
  },
  {
    category: "self-harm",
    weight: 0.3,
    phrases: [
      "(suicide|suicides|suicidal)",
      "(commit|commits|committed|committing) suicide",
      "self (harm|harming|injury|mutilation)",
      "(overdose|overdosed|overdosing)",
      "(hang|hanged|hanging) (myself|himself|herself|themselves)",
      "(took|take|taking) (his|her|their|my) own life",
      "(jumped|jumping|jump) off (a|the) (bridge|building|roof|cliff)",
      "(purging|purge) after (meals|eating)",
      "(scars|cuts) on my (wrists|arms|thighs)",
    ],
  },
];

const SELF_HARM_INTENT: RuleGroup[] = [
  {
    category: "self-harm/intent",
    weight: 0.85,
    phrases: [
      `${I_AM} (going to|gonna|about to|planning to|planning on|ready to|thinking of|thinking about|considering) (kill|killing) myself`,
      `${I_AM} (going to|gonna|about to|planning to|planning on|ready to|thinking of|thinking about) (end|ending) (it all|my life|my own life|everything)`,
      `${I_AM} (going to|gonna|about to|planning to|planning on|ready to|thinking of|thinking about) (commit|committing) suicide`,
      `${I_AM} (going to|gonna|about to|planning to) (hang|cut|hurt|overdose|starve|burn) myself`,
      `${I_AM} (going to|gonna|about to|planning to) (overdose|jump off (a |the )?(bridge|building|roof))`,
      "i (want|wanna|need|wish|would like|plan|intend|have decided|decided) to (die|kill myself|end my life|end it all|disappear forever|not exist|stop existing|commit suicide)",
      "i (want|wanna|need) to (hurt|cut|burn|starve) myself",
      "i (don't|do not|dont) want to (live|be alive|exist|wake up) (anymore|any more|again)",
      `${I_AM} (so |really |very )?suicidal`,
      "i wish i (was|were) (dead|never born)",
      "i (should|deserve to) (just )?(die|be dead|kill myself)",
      "(i have been|i've been|ive been|i keep|i kept|i started|i've started) (cutting|hurting|starving|burning) myself",
      "i (cut|cuts|hurt|burn|starve) myself (again|every (day|night)|to feel|because|when)",
      "(writing|wrote|written|write) (a|my) suicide note",
      "no (reason|point) (to live|in living|to keep living|living anymore|to go on)",
      "(everyone|everybody|the world|my family) (would be|will be|is) better off without me",
      "(took|swallowed|taken|taking) (all|a bottle of|the whole bottle of|a handful of|all of) (my |the )?(pills|sleeping pills|tablets|meds)",
      "(kill|killing) myself (tonight|tomorrow|today|this weekend|soon)",
      "goodbye cruel world",
      "i (can't|cannot|cant) (go on|keep going|do this) anymore",
    ],
  },
  {
    category: "self-harm/intent",
    weight: 0.6,
    phrases: ["(kill|killing) myself", "end my (own )?life", "better off dead", "i want (it all|everything) to end"],
  },
];

const SELF_HARM_INSTRUCTIONS: RuleGroup[] = [
  {
    category: "self-harm/instructions",
    weight: 0.9,
    phrases: [
      `(${HOW}|painless way to|least painful way to|most painless way to|surest way to|fastest way to|methods to|method to|tips for how to) (kill (myself|yourself|oneself|urself)|commit suicide|end (my|your|one's) life|hang (myself|yourself)|slit (my|your) wrists)`,
      `(${HOW}|tips for how to) (cut (myself|yourself)|self harm|starve (myself|yourself)|purge (after eating|food|after meals)|make (myself|yourself) (throw up|vomit)|die (painlessly|quickly|in my sleep)|overdose)`,
      `(${HOW}|tips for how to) hide (my|your) (cuts|scars|self harm|eating disorder) from`,
      "(how many|how much) (pills|tylenol|paracetamol|acetaminophen|ibuprofen|aspirin|sleeping pills|xanax|insulin|benadryl) (to|does it take to|would it take to|will|do i need to) (die|kill (me|you|myself|yourself|someone)|overdose|od|be lethal|be fatal)",
      "(suicide|self harm) (methods|method|guide|instructions|tutorial|techniques)",
      "(pro ana|pro mia) (tips|diet|coach|buddy|rules)",
      "(tips|tricks) (to|for) (hiding|hide) (an |my |your )?(eating disorder|self harm|cuts|anorexia|bulimia)",
      "(eat|eating) (less than )?(300|400|500) calories (a|per) (day|week) to (lose|get thin)",
    ],
  },
  {
    category: ["self-harm/instructions", "harassment"],
    weight: 0.8,
    phrases: [
      "(you should|u should|you need to|just|go|go and|why don't you|why dont you|pls|please|please just) (kill (yourself|urself|yourselves)|kys|end your life|commit suicide|hang (yourself|urself)|slit your wrists|jump off a (bridge|building|cliff)|drink bleach)",
      "(you should|u should|you need to|why don't you|why dont you|please just|just go|go and|pls|please|you deserve to) die",
      "(kill|killing) (yourself|urself|yourselves)",
      "kys",
      "(nobody|no one) would miss (you|u) if (you|u) (died|were dead|killed yourself)",
    ],
  },
  {
    category: "self-harm/instructions",
    weight: 0.3,
    phrases: ["lethal dose (of|for)"],
  },
];

const SEXUAL: RuleGroup[] = [
  {
    category: "sexual",
    weight: 0.75,
    phrases: [
      "(blowjob|blowjobs|blow job|blow jobs|handjob|handjobs|hand job|rimjob|rimjobs|cumshot|cumshots|creampie|creampies|gangbang|gangbangs|bukkake|deepthroat|deepthroating)",
      "(cum|cumming) (on|in|inside|all over) (me|my|her|his|your)",
      "(came|cum|cumming) (on|in|inside|all over) (my|her|his|your) (face|mouth|tits|ass|pussy|boobs)",
      "suck (my|your|his|her) (dick|cock|balls|tits|nipples)",
      "(eat|lick) (my|her|your) (pussy|ass|clit)",
      "(ride|riding) (my|his|your) (dick|cock|face)",
      "(fuck|fucking|fucked|bang|banging|pound|pounding) (her|him|me|you) (hard|raw|rough|so hard|from behind|senseless|doggy style|doggystyle)",
      "(send|sending|show) (me )?(nudes|noods|naked pics|nude pics|pics of your (tits|boobs|dick|pussy|ass|cock))",
      "(dick|cock|pussy|tit|boob|nude) (pic|pics|pictures|selfies|photos)",
      "(wet|tight|shaved|dripping) (pussy|cunt)",
      "(hard|huge|big|thick) (cock|dick)",
      "(hot|sexy|naughty|horny|lonely) (singles|milfs|moms|wives|housewives|girls) (in your area|near you|waiting for you|want to meet you)",
      "(webcam|phone|cyber) sex",
      "(sex|porn) (tape|video|videos|clip|clips|site|sites|star|stars|movie|movies)",
      "(hardcore|free|amateur|hd) porn",
      "(hentai|xxx porn|xxx videos|porno|pornhub|xvideos|xhamster|onlyfans leaks)",
      "(wanna|want to|let's|lets|i want to|i wanna) (fuck|bang|sleep with|hook up with|have sex with) (you|u|her|him|me)",
      "(happy ending massage|erotic massage|nuru massage)",
    ],
  },
  {
    category: "sexual",
    weight: 0.45,
    phrases: [
      "(porn|pornography|pornographic|porno)",
      "(nudes|horny|slutty|threesome|threesomes)",
      "(orgasm|orgasms|dildo|dildos|vibrator sex|sex toy|sex toys)",
      "(titties|tits|boobs|milf|milfs)",
      "(masturbate|masturbates|masturbated|masturbating|masturbation|jerk off|jerking off|jack off|jacking off|wank|wanking)",
      "(pussy|cock|clit|cunnilingus|fellatio)",
      "(anal|oral) sex",
      "(sexting|sex chat|sex cam|camgirl|camgirls|bdsm|bondage|erotic story|erotic stories|erotica|nsfw)",
      "(escort|escorts) (service|services|agency|girls)",
      "(have|having|had) sex (with|tonight|all night)",
      "(strip club|stripper|strippers|hooker|hookers|booty call|sex worker)",
    ],
  },
  {
    category: "sexual",
    weight: 0.2,
    phrases: ["(naked|nude|sexy|xxx|kinky|fetish|erotic|lingerie|seductive|seduce)"],
  },
];

const SEXUAL_MINORS: RuleGroup[] = [
  {
    category: "sexual/minors",
    weight: 0.9,
    phrases: [
      "(child|kiddie|kiddy|children|baby|toddler|preteen|pre teen|underage|minor|teen|jailbait) (porn|porno|pornography|sex videos|nudes|sex tapes)",
      "cp (links|videos|pics|trade|trading|collection|folder)",
      "(pedo|pedophile|paedophile) (porn|pics|videos|content|material|links|stash)",
      "(preteen|pre teen|underage) (nudes|sex|models|girls naked|boys naked|hookup|escort|girl nude|nude|naked)",
      "(nude|naked|sexy|topless|undressed) (kids|children|child|minors|preteens|little girls|little boys|schoolgirls|young girls|young boys|toddlers)",
      "(sex|sexual intercourse|intercourse|oral sex|hook up|hooking up) with (a |an )?(child|children|kid|kids|minor|minors|preteen|little girl|little boy|young girl|young boy|underage girl|underage boy|toddler|12 year old|13 year old|14 year old|15 year old)",
      "(molest|molesting|molested|fondle|fondling|rape|raping) (a |the |my )?(child|children|kid|kids|little girl|little boy|toddler|niece|nephew|stepdaughter|stepson|daughter|son)",
      "(nudes|naked pics|naked photos|nude pics|nude photos) (of|from) (a |my )?(minor|minors|child|kid|underage girl|underage|middle schooler|schoolgirl)",
      "(lolicon|shotacon|jailbait)",
    ],
    regexes: [
      // An age under 18 near sexual words, in either order (the normalised text spells "12-year-old" as "12 year old").
      "\\b(?:[1-9]|1[0-7]) ?(?:yo|y o|year old|years old|yr old|yrs old)\\b[^.!?\\n]{0,40}?\\b(?:nudes|porn|sexy|horny|blowjob|pussy|cock|tits|boobs|have sex|had sex|having sex|naked pics|nude pics)\\b",
      // (The second matches the age and then looks behind it, so the regex engine only starts at digits.)
      "\\b(?:[1-9]|1[0-7]) ?(?:yo|y o|year old|years old|yr old|yrs old)\\b(?<=\\b(?:nudes|porn|sexy|horny|blowjob|have sex with|had sex with|having sex with|fuck a|fucked a|fucking a|sleep with a|slept with a)\\b[^.!?\\n]{0,40}\\b(?:[1-9]|1[0-7]) ?(?:yo|y o|year old|years old|yr old|yrs old))",
    ],
  },
  {
    category: "sexual/minors",
    weight: 0.45,
    phrases: ["(loli|shota|csam)", "(groom|grooming) (a |the )?(child|children|kid|kids|minor|minors)"],
  },
];

const VIOLENCE: RuleGroup[] = [
  {
    category: "violence",
    weight: 0.7,
    phrases: [
      "(beat|beating|beaten) (him|her|them|you|someone) (up|senseless|bloody|to death|to a pulp|black and blue|unconscious)",
      "(beat|beaten|kicked|stomped|stabbed|strangled|bludgeoned|hacked) to death",
      "(shot|shoot|shooting) (him|her|them|you) (dead|in the (head|face|chest|back))",
      "(stabbed|stab|stabbing) (him|her|them|you) (in the|repeatedly|to death|multiple times)",
      "(set|setting) (him|her|them|you|the house|their house) on fire",
      "(bash|bashed|bashing|cave|caved) (his|her|their|your) (head|skull|face) in",
      "(kick|kicked) (his|her|their|your) teeth in",
      "(curb stomp|curb stomped|pistol whip|pistol whipped)",
      "(blow up|bomb|attack|shoot up) (the|a|our|my) (school|building|plane|bus|train|mall|church|mosque|synagogue|office|stadium)",
      "(shoot|kill|stab|murder) (everyone|everybody|all of them|the whole class|as many people as (i|we) can) (at|in) (school|work|the office|church|the mosque|the synagogue|the mall)",
      "(torture|tortured|torturing) (him|her|them|animals|the prisoner|the prisoners)",
      "(execute|executed|executing|behead|beheaded|beheading) (him|her|them|the hostages|the prisoners|hostages|prisoners)",
    ],
  },
  {
    category: "violence",
    weight: 0.25,
    phrases: [
      "(kill|kills|killed|killing|murder|murders|murdered|murdering|murderer|stab|stabs|stabbed|stabbing|slaughter|slaughtered|massacre|massacred)",
      "(strangle|strangled|strangling|lynch|lynched|lynching|behead|beheaded|beheading|bloodbath|torture|tortured|torturing)",
      "(gunman|gunmen|gunfire|mass shooting|school shooting|shooting spree|killing spree|terrorist attack|terror attack|suicide bomber|car bomb)",
      "(rape|raped|rapes|raping|rapist|rapists|assaulted|assaulting)",
      "(bomb|bombs|bombed|bombing|bombings|explode|exploded|grenade|grenades)",
    ],
  },
];

const VIOLENCE_GRAPHIC: RuleGroup[] = [
  {
    category: "violence/graphic",
    weight: 0.8,
    phrases: [
      "(guts|intestines|entrails|innards|bowels|organs|brains|brain matter|brain|viscera) (spilled|spilling|spill|hanging|hung|splattered|splattering|spattered|oozing|leaking|poured|pouring|spewing|sprayed|spraying|slid) (out|everywhere|onto|across|all over)",
      "(blood|gore) (gushing|gushed|spurting|spurted|spraying|sprayed|pooling|pooled|splattered|splattering|pouring|poured|sprayed) (out of|from|everywhere|across|onto|all over)",
      "(skinned|burned|burnt|buried|boiled|eaten) alive",
      "(disembowel|disemboweled|disembowelled|disembowelment|dismember|dismembered|dismembering|dismemberment|decapitate|decapitated|decapitation)",
      "(ripped|tore|torn|pulled) (his|her|their) (throat|heart|guts|eyes|face|intestines|spine) (out|open)",
      "(skull|head) (cracked|split|caved|bashed|smashed|crushed|blown) (open|in|apart)",
      "(chunks|pieces|bits) of (flesh|brain|skull|bone) (everywhere|on the|across|splattered)",
      "(flesh|skin) (ripped|torn|peeled|melted|melting|burned|burning|sloughed|hanging) (off|away|from)",
      "(eyeball|eyeballs|eyes) (popped|gouged|hanging|dangling) (out|from)",
      "(gouge|gouged|gouging) (out )?(his|her|their|your) eyes( out)?",
      "torn limb from limb",
      "(snuff film|snuff films|snuff video|snuff videos)",
      "(severed|hacked off|chopped off) (head|heads|limbs|arm|arms|leg|legs|hands|fingers) (everywhere|on the|in a|lay|lying|scattered)",
    ],
  },
  {
    category: "violence/graphic",
    weight: 0.35,
    phrases: [
      "(pool of blood|pools of blood|covered in blood|soaked in blood|blood soaked|blood and guts|bloody pulp|gore|gory|gruesome)",
      "(mangled|mutilated|charred|rotting|decomposing|headless) (body|bodies|corpse|corpses|remains|flesh)",
      "(severed|mutilated) (head|heads|limb|limbs|arm|leg|hand|hands|finger|fingers)",
      "(mutilate|mutilated|mutilating|mutilation|impaled|flayed|eviscerated|eviscerate)",
      "(bone|bones) (sticking|protruding|jutting) out",
    ],
  },
];

/** All English rules. */
export const EN_RULES: readonly RuleGroup[] = [
  ...HARASSMENT,
  ...THREATS,
  ...HATE,
  ...HATE_THREATS,
  ...ILLICIT,
  ...ILLICIT_VIOLENT,
  ...SELF_HARM,
  ...SELF_HARM_INTENT,
  ...SELF_HARM_INSTRUCTIONS,
  ...SEXUAL,
  ...SEXUAL_MINORS,
  ...VIOLENCE,
  ...VIOLENCE_GRAPHIC,
];

/** What programmers kill. */
const MACHINERY =
  "(process|processes|task|tasks|job|jobs|server|servers|session|sessions|switch|command|signal|signals|program|programs|app|apps|" +
  "application|daemon|daemons|thread|threads|container|containers|pod|pods|query|queries|connection|connections|worker|workers|tab|tabs|" +
  "instance|instances|pid|pids|service|services|build|builds|request|requests|transaction|transactions|script|scripts|loop|timer|timers|cursor)";

/** Benign contexts of listed words: a match inside one of these is dropped. */
export const EN_EXCEPTIONS: readonly ExceptionGroup[] = [
  // Programming and operations.
  `(kill|killing|killed|kills) (the|a|this|that|all|any|each|every|my|your|our|their|its|stale|old|orphaned|hung|zombie|child|background|running|idle|all the|all running) ${MACHINERY}`,
  `(kill|killing|killed|kills) ${MACHINERY}`,
  "(kill|killall|pkill) (9|15|sigkill|sigterm|sighup|hup|term|int|quit|stop|l|s|usr1|usr2)",
  "killed (by|with) (signal|sigkill|sigterm|the oom killer|oom|the kernel|the scheduler)",
  "(oom killer|kill switch|kill chain|kill command|kill signal|kill screen|kill feed|kill count|kill streak|killstreak|kill ratio|kill death ratio)",
  "(killer|killing) (app|apps|feature|features|deal|deals|price|prices|workout|sudoku|whale|whales|bee|bees|instinct|queen|smile|look|combo|move|moves|it|heels|performance|game|game design|robot|robots)",
  "(killed|killing|kill) it (on|at|in|with|today|tonight|out there)",
  "(kill|killing|killed) (time|the mood|the vibe|the lights|the engine|the power|the music|the bug|bugs|weeds|germs|bacteria|pests|mosquitoes|two birds|the conversation|the idea|the proposal|the project|the feature)",
  "kill two birds with one stone",
  "(dressed|dressed up|here) to kill",
  "to kill a mockingbird",
  "kill them with kindness",
  "(execute|executed|executing|execution) (the |a |this |that |your |my )?(script|query|command|code|order|orders|plan|function|program|task|job|statement|trade|trades|transaction|strategy|step|steps|test|tests|payload|request)",
  "(shoot|shot|shooting) (you|u|me|him|her|them|us) (an|a) (email|e mail|message|text|dm|note|line|pm|invite|link|quick)",
  "(photo|video|film|movie) (shoot|shoots|shooting)",
  "(shoot|shot|shoots|shooting) (yourself|myself|ourselves|themselves|himself|herself) in the foot",
  "take a stab at (it|this|that|the)",
  "(bomb shelter|bomb shelters|bath bomb|bath bombs|bombshell|f bomb|the bomb dot com|bomb disposal|bomb squad|bomb threat|bomb proof|bombproof|bomb sniffing|photo bomb|da bomb)",
  "bomb(s|ed|ing)? (the|my|an|a) (exam|test|interview|audition|presentation|quiz)",
  "(flame retardant|fire retardant)",
  "al gore",
  "spic and span",
  "chink in (the|his|her|their|its|our|my) (armor|armour)",
  // Mental-health, medical and news language.
  {
    phrases: [
      "(suicide|suicidal|self harm) (prevention|hotline|hotlines|helpline|helplines|crisis line|lifeline|awareness|watch|rate|rates|risk|risks|ideation|research|statistics|screening|support|services|resources)",
      "(suicidal|self harm) (thoughts|behavior|behaviour|behaviors|behaviours|tendencies|patients)",
      "(prevent|preventing|prevention of|reduce|reducing|risk of|risk factors for|warning signs of|talk about|talking about|thoughts of) (suicide|self harm)",
      "(career|political|social|commercial|electoral) suicide",
      "suicide (squad|doors|door|squeeze|burn|king|run|runs|sprints|drills)",
      "cut (myself|yourself) (a |some )?(slack|break|piece|slice|off)",
      "cut myself (shaving|cooking|chopping|on (a|the)|while|by accident|accidentally)",
      "(could|would|i'll|ill|i will) kill (myself|you) (if i|if you|for)",
      "(died|dying|dead) (of|from) (laughter|laughing|embarrassment|boredom)",
      "i (want|wanted|wanna) to die (of|from) (laughter|laughing|embarrassment|boredom)",
    ],
    categories: ["self-harm", "self-harm/intent", "self-harm/instructions"],
  },
  {
    phrases: [
      "(pussy cat|pussycat|pussy willow|pussy willows|blue tits|great tits|coal tits|tits and warblers)",
      "cock (the|a|his|her) (gun|hammer|rifle|pistol|crossbow)",
      "(sex|sexual) (education|ed|health|assault awareness|differences)",
    ],
    categories: ["sexual", "sexual/minors"],
  },
];
