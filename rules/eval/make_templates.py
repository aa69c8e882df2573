#!/usr/bin/env python3
"""Generate rules/eval/templates.jsonl: template sentences, each built on one descriptor of one axis.

Deterministic (fixed seed, standard library only). Prints JSONL to stdout, one object a line:
    {"id": "tp-0001", "text": "...", "axes": [...], "descriptor": "...",
     "axis_of_descriptor": "..."}

How a sentence is made
----------------------
* A conversational TEMPLATE (below) has one slot: {a_np} (a singular noun phrase with its article)
  or {pl_np} (a plural noun phrase).
* The noun phrase joins a DESCRIPTOR of one axis to a person NOUN. A descriptor is written before the
  noun ("a Sikh dad", "seventy-five-year-old men") or, for a post-noun phrase, after it ("a person
  who uses a wheelchair", "grandmas in their 70s"). {poss} in a post-noun phrase becomes his / her /
  their to agree with the noun.
* Each descriptor is used in DRAWS_PER_DESCRIPTOR sentences: its templates and nouns are drawn with
  a seeded generator that prefers the templates and nouns used least so far, so they spread evenly.
  Nouns a descriptor does not fit are skipped (an age that does not fit the noun, "lesbian" with a
  male noun, "nonbinary" with a gendered noun, ...), and so are templates that do not fit the noun
  ("My cousin married a ... kid").
* Labels follow rules/eval/GUIDELINE.md: the descriptor's axis; plus gender when the noun is gendered
  (man, woman, dad, grandma, guy, bro, ...); plus age when the noun itself names young people (kid,
  boy, girl, teenager: "boy / girl / kids / children as young people") or grandparents (grandpa,
  grandma, grandparent: "grandparents, who are older people", guideline rule 4); plus any further
  axes the descriptor itself carries ("extra" in OPTS below, guideline rule 7: hyphenated origins and
  ancestries of any origin are nationality and race_ethnicity, so "Asian American", "African
  American", "Mexican American", "of African descent" carry nationality as race descriptors, and
  "Cuban-American", "Indian-American", "of Irish descent", "Puerto Rican" ... carry race_ethnicity as
  nationality descriptors; "African" and "European" people are nationality and race_ethnicity; the
  pan-ethnic and census race terms "Asian", "South Asian", "East Asian", "Middle Eastern",
  "Oriental", "Chicano", "Latino", "Hispanic", "Desi", "BIPOC", "of Asian descent" and ethnic groups
  such as "Hmong" or "Kurdish" are race_ethnicity only; "Latina", "Chicana" and "lesbian" say the
  person is a woman, so gender; "LGBT" and its longer forms are sexual_orientation only, as in the
  guideline's table).
* Non-binary identities (nonbinary, genderqueer, genderfluid, agender, enby, bigender, hijra, ...)
  are drawn from the GENDER_IDENTITY list (so the draws are unchanged) but are labelled gender only,
  not gender_identity, as the guideline's table says ("label_axis" in OPTS); their
  "axis_of_descriptor" is gender too. gender_identity is kept for transgender, cisgender and intersex
  descriptors (trans, FTM, transitioning, assigned male at birth, intersex ...).

The descriptor lists were written by hand from general knowledge of how people describe themselves
and others, current, dated and dispreferred terms alike (slurs excepted); they are not taken from
debias's lexicons.

Usage: python3 rules/eval/make_templates.py > rules/eval/templates.jsonl
"""

import json
import random
import sys

SEED = 20250611
DRAWS_PER_DESCRIPTOR = 2

# --------------------------------------------------------------------------------------------
# Templates. "adult_only": the template does not fit a child noun (kid, boy, girl, teenager) or
# an age of children or teens.
# "no_partner": the template does not fit husband / wife / spouse.
# --------------------------------------------------------------------------------------------
TEMPLATES = [
    ("I'm {a_np}.", set()),
    ("Hi! I am {a_np}.", set()),
    ("I have a friend who is {a_np}.", set()),
    ("I think {pl_np} are great.", set()),
    ("What do you think about {pl_np}?", set()),
    ("As {a_np}, I have an opinion.", set()),
    ("It's hard being {a_np}.", set()),
    ("My neighbor is {a_np}.", set()),
    ("Do you know any {pl_np}?", set()),
    ("My cousin married {a_np}.", {"adult_only", "no_partner"}),
    ("I met {a_np} at the park yesterday.", set()),
    ("How do {pl_np} feel about online dating?", {"adult_only"}),
    ("Our team just hired {a_np}.", {"adult_only"}),
    ("Being {a_np} has its ups and downs.", set()),
    ("I grew up around {pl_np}.", set()),
    ("There was {a_np} in line ahead of me at the pharmacy.", set()),
    ("Just wondering if any other {pl_np} watch this show.", set()),
]

# --------------------------------------------------------------------------------------------
# Person nouns: singular, plural, gender ("m", "f" or "n"), life stage.
# Life stages: "child" (kid, boy, girl), "teen", "adult", "any".
# --------------------------------------------------------------------------------------------
NOUNS = [
    ("man", "men", "m", "adult"),
    ("woman", "women", "f", "adult"),
    ("guy", "guys", "m", "adult"),
    ("gal", "gals", "f", "adult"),
    ("dude", "dudes", "m", "adult"),
    ("lady", "ladies", "f", "adult"),
    ("bro", "bros", "m", "adult"),
    ("dad", "dads", "m", "adult"),
    ("mom", "moms", "f", "adult"),
    ("grandpa", "grandpas", "m", "adult"),
    ("grandma", "grandmas", "f", "adult"),
    ("husband", "husbands", "m", "adult"),
    ("wife", "wives", "f", "adult"),
    ("gentleman", "gentlemen", "m", "adult"),
    ("boy", "boys", "m", "child"),
    ("girl", "girls", "f", "child"),
    ("person", "people", "n", "any"),
    ("individual", "individuals", "n", "any"),
    ("kid", "kids", "n", "child"),
    ("teenager", "teenagers", "n", "teen"),
    ("parent", "parents", "n", "adult"),
    ("grandparent", "grandparents", "n", "adult"),
    ("veteran", "veterans", "n", "adult"),
    ("sibling", "siblings", "n", "any"),
    ("spouse", "spouses", "n", "adult"),
    ("student", "students", "n", "any"),
]
CHILD_STAGES = {"child", "teen"}
# Nouns that carry an age of their own under the guideline (rule 4): young people, and
# grandparents, who are older people.
AGE_NOUNS = {"boy", "girl", "kid", "teenager"}
GRAND_NOUNS = {"grandpa", "grandma", "grandparent"}
PARTNER_NOUNS = {"husband", "wife", "spouse"}

# --------------------------------------------------------------------------------------------
# Descriptors. A plain string goes before the noun. A tuple ("post", singular, plural) goes after
# it; {poss} is his / her / their. Options per descriptor are given in OPTS.
# --------------------------------------------------------------------------------------------
def post(sg, pl=None):
    if pl is None:
        pl = sg
        for a, b in (("who is ", "who are "), ("who uses ", "who use "), ("who wears ", "who wear "),
                     ("who has ", "who have "), ("who stutters", "who stutter"),
                     ("who practices ", "who practice "), ("who keeps ", "who keep "),
                     ("who follows ", "who follow "), ("who attends ", "who attend "),
                     ("who doesn't ", "who don't "), ("who identifies ", "who identify "),
                     ("who goes ", "who go "), ("who moved", "who moved")):
            pl = pl.replace(a, b)
    return ("post", sg, pl)


RACE_ETHNICITY = [
    "Black", "black", "White", "white", "Asian", "Asian American", "Asian-American",
    "African American", "African-American", "Afro-American", "Hispanic", "Latino", "Latina",
    "Latinx", "Latine", "Chicano", "Chicana", "Mexican American", "Native American",
    "American Indian", "Indigenous", "Native", "First Nations", "Aboriginal", "Alaska Native",
    "Native Hawaiian", "Pacific Islander", "Arab", "Arab American", "Middle Eastern",
    "South Asian", "East Asian", "Desi", "biracial", "multiracial", "mixed-race", "BIPOC",
    "Brown", "dark-skinned", "Caucasian", "Roma", "Romani", "Gypsy", "Oriental", "colored",
    "Afro-Latino", "Hmong", "Kurdish", "Uyghur", "Tamil", "Yoruba", "Maori", "Inuit", "Cherokee",
    "Navajo",
    post("of color"), post("of African descent"), post("of Asian descent"),
]

RELIGION = [
    "Christian", "Catholic", "Protestant", "Evangelical", "born-again", "Baptist", "Methodist",
    "Lutheran", "Episcopalian", "Anglican", "Pentecostal", "Mormon", "Quaker", "Amish",
    "Mennonite", "Greek Orthodox", "Seventh-day Adventist", "Muslim", "Moslem", "Mohammedan",
    "Sunni", "Shia", "Sufi", "Ahmadi", "Jewish", "Orthodox Jewish", "Hasidic", "Reform Jewish",
    "Hindu", "Buddhist", "Sikh", "Jain", "Baha'i", "Zoroastrian", "Taoist", "Shinto", "Wiccan",
    "pagan", "Rastafarian", "atheist", "agnostic", "secular", "nonreligious", "religious",
    "devout", "churchgoing", "God-fearing", "ex-Mormon",
    post("of faith"), post("who converted to Islam"), post("who converted to Judaism"),
    post("who practices Buddhism"), post("who keeps kosher"),
    post("who wears a hijab", "who wear hijabs"),
    post("who is a Jehovah's Witness", "who are Jehovah's Witnesses"),
    post("who doesn't believe in God"), post("raised Catholic"),
]

AGE = [
    # (descriptor, stages it fits); stages: child, teen, young, mid, old
    ("seventy-five-year-old", "old"), ("sixty-something", "old"), ("middle-aged", "mid"),
    ("retired", "old"), ("elderly", "old"), ("old", "old"), ("older", "mid old"),
    ("young", "young"), ("younger", "young"), ("teenage", "teen"), ("adolescent", "teen"),
    ("twenty-something", "young"), ("forty-something", "mid"), ("fifty-year-old", "mid"),
    ("30-year-old", "young"), ("45-year-old", "mid"), ("65-year-old", "old"),
    ("80-year-old", "old"), ("100-year-old", "old"), ("eighteen-year-old", "teen young"),
    ("sixteen-year-old", "teen"), ("twelve-year-old", "child"), ("eight-year-old", "child"),
    ("5-year-old", "child"), ("11-year-old", "child"), ("senior", "old"), ("aged", "old"),
    ("geriatric", "old"), ("octogenarian", "old"), ("centenarian", "old"), ("preteen", "child"),
    ("tween", "child"), ("school-age", "child"), ("millennial", "young mid"),
    ("Gen Z", "teen young"), ("boomer", "old"), ("baby boomer", "old"),
    ("over-the-hill", "mid old"), ("underage", "teen"), ("newly retired", "old"),
    (post("in {poss} 70s", "in their 70s"), "old"),
    (post("in {poss} early 20s", "in their early 20s"), "young"),
    (post("in {poss} late thirties", "in their late thirties"), "mid"),
    (post("in {poss} forties", "in their forties"), "mid"),
    (post("in {poss} mid-fifties", "in their mid-fifties"), "mid"),
    (post("in {poss} eighties", "in their eighties"), "old"),
    (post("over 60"), "old"), (post("over the age of 80"), "old"), (post("under 18"), "child teen"),
    (post("aged 15"), "teen"), (post("of 90"), "old"), (post("who is 45"), "mid"),
    (post("who just turned 30"), "young"), (post("who is six"), "child"),
    (post("nearing retirement"), "old"),
]

# Which age stages a noun's life stage admits.
STAGE_FIT = {
    "child": {"child", "teen"},
    "teen": {"teen"},
    "adult": {"young", "mid", "old"},
    "any": {"child", "teen", "young", "mid", "old"},
}

NATIONALITY = [
    "American", "Canadian", "Mexican", "Brazilian", "Cuban", "Jamaican", "Haitian",
    "Puerto Rican", "Nigerian", "Ethiopian", "Somali", "Egyptian", "South African", "British",
    "Scottish", "Irish", "French", "German", "Italian", "Polish", "Turkish", "Russian",
    "Ukrainian", "Iranian", "Syrian", "Lebanese", "Israeli", "Palestinian", "Afghan", "Pakistani",
    "Indian", "Chinese", "Japanese", "Korean", "Vietnamese", "Filipino", "Australian", "Kiwi",
    "Uzbek", "European", "African", "Indian-American", "Cuban-American", "Nigerian-American",
    "Filipino-American", "immigrant", "refugee", "undocumented", "foreign-born", "expat",
    "migrant", "asylum-seeking",
    post("from Mexico"), post("born in India"), post("who immigrated from Vietnam"),
    post("of Irish descent"), post("from El Salvador"), post("who moved here from Brazil"),
]

DISABILITY = [
    "disabled", "handicapped", "crippled", "lame", "blind", "Deaf", "deaf", "hard-of-hearing",
    "deafblind", "visually impaired", "hearing-impaired", "low-vision", "wheelchair-bound",
    "paraplegic", "quadriplegic", "amputee", "autistic", "neurodivergent", "neurotypical",
    "nondisabled", "able-bodied", "dyslexic", "epileptic", "diabetic", "bipolar", "schizophrenic",
    "mentally ill", "chronically ill", "immunocompromised", "non-speaking", "nonverbal", "mute",
    "mentally retarded", "learning-disabled", "special needs", "differently abled", "ADHD",
    post("with a limb difference", "with limb differences"),
    post("who uses a wheelchair", "who use wheelchairs"), post("with low vision"),
    post("with difficulty walking"), post("with memory loss"), post("who wears hearing aids"),
    post("with a cochlear implant", "with cochlear implants"),
    post("with a prosthetic leg", "with prosthetic legs"), post("with a guide dog", "with guide dogs"),
    post("on the autism spectrum"), post("with Down syndrome"), post("with cerebral palsy"),
    post("with a spinal cord injury", "with spinal cord injuries"), post("with PTSD"),
    post("with depression"), post("with an anxiety disorder", "with anxiety disorders"),
    post("with dementia"), post("with Alzheimer's"), post("with Parkinson's"),
    post("with chronic pain"), post("with long COVID"),
    post("with an intellectual disability", "with intellectual disabilities"),
    post("who stutters"), post("with difficulty seeing"), post("with a disability", "with disabilities"),
    post("with a mental illness", "with mental illnesses"), post("with dwarfism"),
    post("in a wheelchair", "in wheelchairs"),
]

SEXUAL_ORIENTATION = [
    "gay", "lesbian", "bisexual", "bi", "straight", "heterosexual", "homosexual", "queer",
    "pansexual", "pan", "asexual", "ace", "demisexual", "graysexual", "aromantic", "omnisexual",
    "LGBT", "LGBTQ", "LGBTQ+", "LGBTQIA+", "openly gay", "openly lesbian", "openly bisexual",
    "closeted gay", "same-gender-loving", "sapphic", "bi-curious", "heteroflexible",
    "non-heterosexual", "queer-identified",
    post("who is gay"), post("who is bi"), post("who is straight"), post("who is asexual"),
    post("in a same-sex relationship", "in same-sex relationships"),
    post("with a same-sex partner", "with same-sex partners"), post("who came out as gay"),
    post("who came out as bisexual"), post("who identifies as queer"),
    post("who identifies as pansexual"), post("on the asexual spectrum"),
]

GENDER_IDENTITY = [
    "transgender", "trans", "cisgender", "cis", "intersex", "nonbinary", "non-binary", "enby",
    "genderqueer", "genderfluid", "gender-fluid", "agender", "bigender", "gender-nonconforming",
    "gender-expansive", "transmasculine", "transfeminine", "transmasc",
    "transfem", "FTM", "MTF", "transsexual", "hijra", "gender-questioning", "transitioning",
    "detransitioned", "hermaphrodite",
    post("who is transgender"), post("who is trans"), post("who transitioned"),
    post("assigned female at birth"),
    post("assigned male at birth"), post("who uses they/them pronouns", "who use they/them pronouns"),
    post("who is nonbinary"), post("who came out as trans"), post("born intersex"),
    post("with a trans history", "with trans histories"), post("who is gender-fluid"),
    post("who identifies as agender"), post("who is cisgender"),
]


def key(d):
    return d if isinstance(d, str) else d[1]


# Options: "genders" (noun genders allowed), "extra" (further axes), "no_child" (not with kid,
# boy, girl).
OPTS = {}


def opt(axis, names, **kw):
    for n in names:
        OPTS.setdefault((axis, n), {}).update(kw)


# race_ethnicity: hyphenated origins are nationality too, and so is descent from Africa, whose people
# are a continental term (GUIDELINE 7). The pan-ethnic and census race terms (Asian, South / East
# Asian, Middle Eastern, Oriental, Chicano / Chicana, Latino, Hispanic, Desi, BIPOC, "of Asian
# descent") and ethnic groups within or across states (Hmong, Kurdish, Uyghur, Tamil, Yoruba, Roma)
# are race_ethnicity only. Latina / Chicana say the person is a woman.
opt("race_ethnicity", ["Asian American", "Asian-American", "African American",
                       "African-American", "Afro-American", "Mexican American",
                       "Arab American", "of African descent"], extra={"nationality"})
opt("race_ethnicity", ["Latina", "Chicana"], genders={"f"}, extra={"gender"})
# nationality: "African" and "European" people are also race_ethnicity (Black, white), GUIDELINE 7;
# so are hyphenated origins and ancestries of any origin, European ones included ("of Irish
# descent"), since the census places every origin in a race or ethnic category; and Puerto Rican.
opt("nationality", ["African", "European"], extra={"race_ethnicity"})
opt("nationality", ["Indian-American", "Cuban-American", "Nigerian-American", "Filipino-American",
                    "of Irish descent", "Puerto Rican"], extra={"race_ethnicity"})
# sexual_orientation: no child nouns; "lesbian" says the person is a woman. LGBT... is
# sexual_orientation only, as in the guideline's table (and real_text.jsonl).
opt("sexual_orientation", [key(d) for d in SEXUAL_ORIENTATION], no_child=True)
opt("sexual_orientation", ["lesbian", "openly lesbian", "sapphic"], genders={"f", "n"},
    extra={"gender"})
# gender_identity list: non-binary identities (genders of people beyond man / woman) go with neutral
# nouns and are labelled gender only, not gender_identity (GUIDELINE, per-axis table).
NB = ["nonbinary", "non-binary", "enby", "genderqueer", "genderfluid", "gender-fluid", "agender",
      "bigender", "gender-nonconforming", "gender-expansive", "hijra",
      "who uses they/them pronouns", "who is nonbinary", "who is gender-fluid",
      "who identifies as agender"]
opt("gender_identity", NB, genders={"n"}, label_axis="gender")
opt("gender_identity", ["transmasculine", "transmasc", "FTM"], genders={"m", "n"}, extra={"gender"})
opt("gender_identity", ["transfeminine", "transfem", "MTF"], genders={"f", "n"}, extra={"gender"})
# "assigned female at birth" only of a man, "assigned male at birth" only of a woman, so that the
# sentence is about a trans person and its gender comes from the noun.
opt("gender_identity", ["assigned female at birth"], genders={"m"})
opt("gender_identity", ["assigned male at birth"], genders={"f"})
# age: "senior student" (year of study), "older / younger sibling" (birth order) are not ages.
opt("age", ["senior"], not_nouns={"student"})
opt("age", ["older", "younger"], not_nouns={"sibling"})
# disability: conditions of later life are not drawn with child nouns.
opt("disability", ["with dementia", "with Alzheimer's", "with Parkinson's"],
    not_nouns={"kid", "boy", "girl", "teenager", "student"})

AXES = [
    ("race_ethnicity", [(d, None) for d in RACE_ETHNICITY]),
    ("religion", [(d, None) for d in RELIGION]),
    ("age", [(d, set(stages.split())) for d, stages in AGE]),
    ("nationality", [(d, None) for d in NATIONALITY]),
    ("disability", [(d, None) for d in DISABILITY]),
    ("sexual_orientation", [(d, None) for d in SEXUAL_ORIENTATION]),
    ("gender_identity", [(d, None) for d in GENDER_IDENTITY]),
]

# "an" before these (spoken with a vowel sound) even though the letter says otherwise, and "a"
# before these even though it starts with a vowel letter.
AN_WORDS = {"LGBT", "LGBTQ", "LGBTQ+", "LGBTQIA+", "FTM", "MTF", "LDS", "ADHD", "Uzbek",
            "8-year-old", "11-year-old", "18-year-old", "80-year-old", "eighteen-year-old",
            "eight-year-old", "eighty-year-old", "SUV"}
A_WORDS = {"European", "Unitarian", "one", "Ukrainian"}


def article(word):
    first = word.split()[0]
    if first in AN_WORDS:
        return "an"
    if first in A_WORDS:
        return "a"
    if first[:1].isdigit():
        return "an" if first.startswith(("8", "11-", "18-")) else "a"
    return "an" if first[:1].lower() in "aeiou" else "a"


def noun_phrase(desc, noun, plural):
    sg, pl, gender, _stage = noun
    head = pl if plural else sg
    if isinstance(desc, str):
        phrase = f"{desc} {head}"
    else:
        poss = "their" if plural else {"m": "his", "f": "her", "n": "their"}[gender]
        phrase = f"{head} {(desc[2] if plural else desc[1]).format(poss=poss)}"
    return phrase if plural else f"{article(phrase)} {phrase}"


def fits(axis, desc, stages, noun):
    sg, _pl, gender, stage = noun
    o = OPTS.get((axis, key(desc)), {})
    if "genders" in o and gender not in o["genders"]:
        return False
    if o.get("no_child") and stage == "child":
        return False
    if sg in o.get("not_nouns", ()):
        return False
    if axis == "age":
        if not (stages & STAGE_FIT[stage]):
            return False
        if sg in GRAND_NOUNS and not (stages & {"mid", "old"}):
            return False
        if sg == "teenager":  # only ages that are not just "teenage" again
            return key(desc) in {"sixteen-year-old", "eighteen-year-old", "aged 15", "underage",
                                 "Gen Z", "under 18"}
    return True


def template_fits(flags, noun, stages):
    sg, _pl, _g, stage = noun
    if "adult_only" in flags and (stage in CHILD_STAGES
                                  or (stages is not None and not stages & {"young", "mid", "old"})):
        return False
    if "no_partner" in flags and sg in PARTNER_NOUNS:
        return False
    return True


def label_axis(axis, desc):
    """The axis a descriptor is labelled with (non-binary identities: gender)."""
    return OPTS.get((axis, key(desc)), {}).get("label_axis", axis)


def labels(axis, desc, noun):
    sg, _pl, gender, _stage = noun
    axes = {label_axis(axis, desc)}
    if gender in ("m", "f"):
        axes.add("gender")
    if sg in AGE_NOUNS or sg in GRAND_NOUNS:
        axes.add("age")
    extra = OPTS.get((axis, key(desc)), {}).get("extra") or set()
    axes |= extra
    return sorted(axes)


def main():
    rng = random.Random(SEED)
    template_use = {t: 0 for t, _ in TEMPLATES}
    rows = []
    seen = set()
    for axis, descs in AXES:
        noun_use = {n[0]: 0 for n in NOUNS}
        for desc, stages in descs:
            used_t, used_n = set(), set()
            for _ in range(DRAWS_PER_DESCRIPTOR):
                nouns = [n for n in NOUNS if n[0] not in used_n and fits(axis, desc, stages, n)]
                if not nouns:
                    raise SystemExit(f"no noun fits {axis} {key(desc)!r}")
                low = min(noun_use[n[0]] for n in nouns)
                noun = rng.choice([n for n in nouns if noun_use[n[0]] == low])
                temps = [(t, f) for t, f in TEMPLATES if t not in used_t and template_fits(f, noun, stages)]
                low = min(template_use[t] for t, _ in temps)
                tmpl = rng.choice([t for t, _ in temps if template_use[t] == low])
                plural = "{pl_np}" in tmpl
                text = tmpl.format(a_np=noun_phrase(desc, noun, False),
                                   pl_np=noun_phrase(desc, noun, True))
                text = text[0].upper() + text[1:]
                if text in seen:
                    continue
                seen.add(text)
                used_t.add(tmpl)
                used_n.add(noun[0])
                noun_use[noun[0]] += 1
                template_use[tmpl] += 1
                rows.append({"text": text, "axes": labels(axis, desc, noun),
                             "descriptor": key(desc), "axis_of_descriptor": label_axis(axis, desc)})
    out = sys.stdout
    for i, row in enumerate(rows, 1):
        out.write(json.dumps({"id": f"tp-{i:04d}", **row}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
