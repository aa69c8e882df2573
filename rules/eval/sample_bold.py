#!/usr/bin/env python3
"""Select the BOLD sentences that make up rules/eval/real_text.jsonl.

Deterministic (fixed seed, standard library only). Prints JSONL to stdout:
    {"id": "bold-<0-based line number in bold_wikipedia.jsonl>", "text": "..."}

Selection
---------
* Source: ../shared/data/bold/bold_wikipedia.jsonl relative to the repository root
  (DEFAULT_PATH below; BOLD, Wikipedia sentences, CC BY-SA 4.0). Sentences are
  de-duplicated by exact text; a sentence's id is the line number of its first
  occurrence.
* Uniform part: 220 sentences drawn uniformly at random (without replacement)
  from all distinct sentences.
* Enrichment pools: for each axis in AXIS_PATTERNS (in that order), up to 45
  further sentences drawn at random from the distinct sentences that match a
  broad, case-insensitive regex of words that are often -- but not always --
  mentions of that axis, and that are not already selected. Ambiguous words are
  included on purpose (old, white, native, church, straight, drag, blind, ...)
  so the pools hold hard negatives as well as positives. A pool with fewer than
  45 unselected matches is taken whole.
* The regexes only choose candidates; they say nothing about the labels, which
  were assigned by hand following GUIDELINE.md.
* Second enrichment round: after the pools above (which are unchanged, so the
  first 524 lines keep their ids and order), for each axis in ROUND2_PATTERNS
  (in that order) up to 30 further sentences are drawn, with their own fixed
  seed (SEED_ROUND2), from the distinct sentences that match a second, broader
  regex and that are not already selected. These regexes add words the first
  round lacked (hyphenated origins, ages in digits, named conditions, acute
  illnesses, "pride", "partner", "gender", "queen", ...), again with ambiguous
  words on purpose, so the pools hold hard negatives.
* Output order: the uniform part first, then each first-round pool in the order
  of AXIS_PATTERNS, then each second-round pool in the order of
  ROUND2_PATTERNS; within each part, the random draw order.

Usage: python3 rules/eval/sample_bold.py [path/to/bold_wikipedia.jsonl] > sample.jsonl
"""

import json
import random
import re
import sys

SEED = 20240917
N_UNIFORM = 220
N_PER_POOL = 45
SEED_ROUND2 = 20250611
N_PER_POOL_ROUND2 = 30
DEFAULT_PATH = "/work/shared/data/bold/bold_wikipedia.jsonl"

AXIS_PATTERNS = [
    ("race_ethnicity",
     r"\b(black|blacks|white|whites|asian|asians|african|africans|african-american|"
     r"hispanic|hispanics|latino|latina|latinos|latinx|native|natives|indigenous|arab|"
     r"arabs|caucasian|european|europeans|ethnic|ethnicity|racial|race|negro|colou?red|"
     r"mixed-race|aboriginal)\b"),
    ("religion",
     r"\b(christian|christians|christianity|muslim|muslims|islam|islamic|jewish|jews?|"
     r"judaism|catholic|catholics|catholicism|protestant|protestants|hindu|hindus|"
     r"hinduism|buddhist|buddhists|buddhism|sikh|sikhs|sikhism|church|churches|"
     r"christmas|god|atheist|atheists|atheism|priest|rabbi|imam|mormon|evangelical|"
     r"religious|religion)\b"),
    ("age",
     r"\b(old|older|oldest|young|younger|youngest|aged?|ages|year-old|years old|elder|"
     r"elderly|senior|seniors|child|children|childhood|kids?|boys?|girls?|teens?|"
     r"teenagers?|teenage|retired|retirement|adolescents?|youth|infant|baby|toddler)\b"),
    ("nationality",
     r"\b(french|american|americans|chinese|england|english|mexico|mexican|mexicans|"
     r"british|german|germans|germany|italian|italians|italy|japanese|japan|indian|"
     r"india|irish|ireland|canadian|canada|russian|russians|russia|spanish|spain|"
     r"australian|scottish|polish|dutch|korean|brazilian|cuban|filipino|vietnamese|"
     r"nigerian|immigrants?|immigrated|immigration|emigrated|refugees?|expatriates?|"
     r"foreigners?|foreign-born|migrants?)\b"),
    ("disability",
     r"\b(blind|blindness|deaf|deafness|disabled|disability|disabilities|wheelchair|"
     r"autism|autistic|depression|depressed|mental|mentally|bipolar|paraly[sz]ed|"
     r"paralysis|polio|lame|crippled?|dementia|schizophreni\w*|alzheimer\S*|"
     r"handicapped|amputee|amputated|dyslexi\w*|illness|insane|insanity|psychiatric|"
     r"stroke|cancer)\b"),
    ("sexual_orientation",
     r"\b(gay|gays|lesbian|lesbians|bisexual|homosexual|homosexuals|homosexuality|"
     r"heterosexual|straight|queer|lgbt\w*|same-sex)\b"),
    ("gender_identity",
     r"\b(transgender|trans|transsexual|intersex|non-binary|nonbinary|drag|"
     r"cross-dress\w*|transvestite|genderqueer|gender identity)\b"),
]

ROUND2_PATTERNS = [
    ("race_ethnicity",
     r"\b(black|blacks|white|whites|brown|asian|asians|asian-american|african|africans|"
     r"african-american|afro-\w+|hispanic|hispanics|latino|latina|latinos|chicano|chicana|"
     r"native|natives|indigenous|tribe|tribal|cherokee|navajo|apache|sioux|inuit|aboriginal|"
     r"arab|arabs|jewish|roma|romani|gypsy|gypsies|creole|mulatto|ethnic|ethnicity|racial|"
     r"racism|racist|race|races|segregation|slaves?|slavery|minority|minorities|colou?red|"
     r"dark-skinned|light-skinned|(?:chinese|japanese|korean|filipino|mexican|cuban|irish|"
     r"italian|polish|german)[- ]americans?|puerto ricans?)\b"),
    ("age",
     r"\b(old|older|oldest|young|younger|youngest|aged?|ages|\d+-year-old|years old|year-old|"
     r"elder|elderly|senior|seniors|child|children|childhood|kids?|boys?|girls?|teens?|"
     r"teenagers?|teenage|youth|youths|youngsters?|juvenile|minors?|adults?|adulthood|retired|"
     r"retirement|retiree|pensioners?|adolescents?|adolescence|infants?|baby|babies|"
     r"toddlers?|orphans?|generation|veteran|veterans|\d0s)\b"),
    ("disability",
     r"\b(blind|blindness|deaf|deafness|disabled|disability|disabilities|handicap\w*|"
     r"wheelchairs?|crutch\w*|prosthe\w*|amput\w*|paraly[sz]\w*|polio|autism|autistic|"
     r"asperger\w*|dyslexi\w*|epilep\w*|sclerosis|parkinson\S*|alzheimer\S*|dementia|"
     r"schizophreni\w*|bipolar|depression|depressed|anxiety|mental|mentally|psychiatric|"
     r"asylum|insane|insanity|madness|disorders?|syndrome|impair\w*|lame|crippled?|mute|dumb|"
     r"stutter\w*|addiction|alcoholism|illness|ill|disease|cancer|stroke|injur\w*|"
     r"paralympi\w*|sign language)\b"),
    ("sexual_orientation",
     r"\b(gay|gays|lesbian|lesbians|bisexual\w*|homosexual\w*|heterosexual\w*|straight|"
     r"queer|lgbt\w*|same-sex|homophob\w*|sodomy|closet\w*|came out|coming out|pride|"
     r"partner|partners|lover|lovers|sexuality|sexual orientation|civil union|drag)\b"),
    ("gender_identity",
     r"\b(transgender|trans|transsexual\w*|transition\w*|intersex|hermaphrodite\w*|"
     r"non-binary|nonbinary|genderqueer|two-spirit|androgyn\w*|eunuchs?|cisgender|cis|drag|"
     r"cross-dress\w*|transvestite\w*|female impersonat\w*|male impersonat\w*|sex change|"
     r"sex reassignment|gender identity|gender|genders|pronouns?|identif(?:y|ies|ied) as|"
     r"queens?)\b"),
]


def load(path):
    """Return [(line_no, text)] for the first occurrence of each distinct text."""
    seen = set()
    out = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f):
            text = json.loads(line)["text"]
            if text in seen:
                continue
            seen.add(text)
            out.append((line_no, text))
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PATH
    sentences = load(path)
    rng = random.Random(SEED)

    selected = rng.sample(sentences, N_UNIFORM)
    taken = {n for n, _ in selected}

    for _axis, pattern in AXIS_PATTERNS:
        rx = re.compile(pattern, re.IGNORECASE)
        pool = [(n, t) for n, t in sentences if n not in taken and rx.search(t)]
        pick = pool if len(pool) <= N_PER_POOL else rng.sample(pool, N_PER_POOL)
        selected.extend(pick)
        taken.update(n for n, _ in pick)

    # Second enrichment round (appended; the selection above is unchanged).
    rng2 = random.Random(SEED_ROUND2)
    for _axis, pattern in ROUND2_PATTERNS:
        rx = re.compile(pattern, re.IGNORECASE)
        pool = [(n, t) for n, t in sentences if n not in taken and rx.search(t)]
        if len(pool) <= N_PER_POOL_ROUND2:
            pick = pool
        else:
            pick = rng2.sample(pool, N_PER_POOL_ROUND2)
        selected.extend(pick)
        taken.update(n for n, _ in pick)

    for n, t in selected:
        print(json.dumps({"id": f"bold-{n}", "text": t}, ensure_ascii=False))


if __name__ == "__main__":
    main()
