/**
 * Shared vocabulary of the English lists, as phrase-notation groups (see ../phrase-expansion.ts) that the
 * category lists combine: who speaks, who is targeted, which groups are protected.
 */

/** A first-person future or intent: "i will", "i'm gonna", "imma". */
export const I_WILL =
  "(i will|i'll|ill|i shall|i am going to|i'm going to|im going to|i am gonna|i'm gonna|im gonna|imma|i'ma|ima|i want to|i wanna|i'm about to|im about to)";

/** The same for "we". */
export const WE_WILL = "(we will|we'll|we are going to|we're going to|were going to|we're gonna|we are gonna|we gonna)";

/** "i am". */
export const I_AM = "(i am|i'm|im)";

/** "you are" in its chat spellings ("your" only before an article: "your an idiot", never "your garbage"). */
export const YOU_ARE = "(you are|you're|youre|you r|u are|u r|u're)";

/** A directly addressed target. */
export const YOU = "(you|u|ya|yall|y'all|you all|your family|your kids|your wife|your husband|your children|your mom|your mother|your dog)";

/** A target, addressed or not. */
export const ANYONE = "(you|u|ya|yall|y'all|you all|your family|your kids|your wife|your children|him|her|them|everyone|everybody)";

/** Protected groups, plural (hate is about groups; an insult to one person is harassment). */
export const GROUPS =
  "(jews|jewish people|muslims|christians|catholics|hindus|sikhs|atheists|blacks|black people|whites|white people|asians|" +
  "chinese people|arabs|africans|mexicans|latinos|hispanics|indians|immigrants|migrants|refugees|foreigners|gays|gay people|" +
  "lesbians|homosexuals|queers|trans people|transgender people|bisexuals|women|females|disabled people|the disabled|gypsies|roma)";

/** Protected groups, singular, for "the only good … is a dead one". */
export const GROUP_MEMBER = "(jew|muslim|christian|black|white|asian|arab|african|mexican|immigrant|refugee|gay|lesbian|fag|woman|indian)";

/** Dehumanising predicates. */
export const VERMIN =
  "(vermin|subhuman|sub human|animals|parasites|cockroaches|roaches|rats|pigs|apes|monkeys|savages|filth|scum|a disease|a cancer|" +
  "a plague|a virus|inferior|degenerates|trash|garbage|not human|not even human|less than human|mentally ill|evil|a curse)";

/** Predicates of collective guilt. */
export const CRIMINALS = "(criminals|terrorists|rapists|thieves|pedophiles|paedophiles|invaders|a threat to our race)";

/** Calls for a group's death or removal. */
export const EXTERMINATE =
  "(die|be killed|be exterminated|be gassed|be shot|be hanged|be hung|be lynched|be wiped out|be eradicated|be burned|burn|hang|" +
  "be put down|be sterilized|be sterilised|be deported and killed|not exist|not be allowed to live|be rounded up|be put in camps)";

/** Insults for "you are a …". */
export const INSULTS =
  "(idiot|moron|imbecile|retard|loser|failure|waste of space|waste of oxygen|waste of air|piece of shit|piece of garbage|worthless|pathetic|" +
  "disgusting|ugly|stupid|dumb|useless|garbage|trash|joke|clown|pig|whore|slut|bitch|cunt|freak|scum|scumbag|degenerate|subhuman|" +
  "dumbass|jackass|asshole|dickhead|douchebag|twat|parasite|disgrace|embarrassment|fat pig|fat cow|ugly bitch|dumb bitch)";

/** "How do I" and other framings that ask for instructions. */
export const HOW =
  "(how to|how do i|how do you|how can i|how could i|how would i|how should i|how do people|ways to|best way to|easiest way to|" +
  "quickest way to|tips on how to|tutorial on how to|guide to|step by step guide to|teach me how to|teach me to|explain how to|show me how to|help me)";

/** Things that kill or maim, for instructions to make them. */
export const WEAPONS =
  "(bomb|pipe bomb|nail bomb|car bomb|dirty bomb|fertilizer bomb|fertiliser bomb|homemade bomb|explosive|explosives|explosive device|ied|" +
  "grenade|molotov cocktail|molotov|napalm|thermite bomb|tatp|nitroglycerin|detonator|silencer|suppressor|ghost gun|zip gun|untraceable gun|" +
  "untraceable firearm|machine gun|auto sear|bump stock|nerve agent|sarin|vx gas|ricin|anthrax|chemical weapon|bioweapon|" +
  "biological weapon|mustard gas|chlorine gas|poison gas|flamethrower|letter bomb|suicide vest)";
