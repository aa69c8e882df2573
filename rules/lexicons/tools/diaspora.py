#!/usr/bin/env python3
"""Hyphenated-origin terms ("Canadian-American", "Polish American") for race_ethnicity.yaml.

The census places every origin in a race or ethnic category (OMB SPD 15, 2024: detailed origins
under White, Black, Asian, Hispanic or Latino, Middle Eastern or North African, Native Hawaiian
or Pacific Islander). For every one-word demonym that the nationality lexicon counts of people
(its context rules with `person`), this prints `<demonym> american` and `<demonym> canadian`
under the race_ethnicity group of the demonym's region, unless race_ethnicity.yaml already lists
the term. The matcher joins hyphens and spaces, so "Polish-American" and "Polish American" match.

    python3 rules/lexicons/tools/diaspora.py rules/lexicons > diaspora.txt

The output is one `group: term, term, ...` line per group, to add to the groups' `terms` and to
the context rule that counts hyphenated-origin terms only of people ("Canadian-American actor",
not "the Canadian-American border").
"""
import os
import sys

import yaml

REGION_TO_RACE = {
    "north_american": "white",
    "latin_american_caribbean": "hispanic_latino",
    "western_european": "white",
    "eastern_european": "white",
    "middle_eastern_north_african": "middle_eastern_north_african",
    "sub_saharan_african": "black",
    "south_asian": "asian",
    "east_asian": "asian",
    "southeast_asian": "asian",
    "central_asian": "asian",
    "oceanian": "white",
}
# Caribbean and South American origins that the census counts as Black, not Hispanic.
BLACK_CARIBBEAN = {
    "jamaican", "haitian", "trinidadian", "tobagonian", "barbadian", "bajan", "bahamian", "grenadian",
    "antiguan", "barbudan", "kittitian", "nevisian", "vincentian", "lucian", "montserratian",
    "anguillan", "virgin islander", "guyanese", "surinamese", "belizean", "caymanian", "bermudian",
    "west indian", "afro-caribbean", "caribbean",
}
# Pacific peoples (Native Hawaiian or Other Pacific Islander).
PACIFIC = {
    "samoan", "tongan", "fijian", "hawaiian", "guamanian", "chamorro", "marshallese", "palauan",
    "micronesian", "polynesian", "melanesian", "tahitian", "maori", "papuan", "solomon islander",
    "ni-vanuatu", "i-kiribati", "tuvaluan", "nauruan",
}
HOSTS = ["american", "canadian"]
SKIP = {"american", "north american", "latin american", "south american", "central american"}


def main(lexicons):
    with open(os.path.join(lexicons, "nationality.yaml"), encoding="utf-8") as f:
        nationality = yaml.safe_load(f)
    with open(os.path.join(lexicons, "race_ethnicity.yaml"), encoding="utf-8") as f:
        race = yaml.safe_load(f)
    region_of = {}
    for region, group in nationality["groups"].items():
        for term in group.get("terms", []):
            region_of.setdefault(term, region)
    demonyms = []
    for rule in nationality.get("context", []):
        if not rule.get("person"):
            continue
        terms = rule.get("terms") or [rule.get("term")]
        demonyms += [t for t in terms if t and " " not in t and t not in SKIP]
    group_of = {t.replace("-", " "): g for g, v in race["groups"].items() for t in v.get("terms", [])}
    listed = set(group_of)
    added = {}
    for d in sorted(set(demonyms)):
        region = region_of.get(d)
        if region not in REGION_TO_RACE:
            continue
        group = REGION_TO_RACE[region]
        # An origin already listed with one host keeps its category with the others
        # ("sudanese american" is black, so "sudanese canadian" is too).
        known = [group_of[k] for h in HOSTS if (k := f"{d} {h}".replace("-", " ")) in group_of]
        if known:
            group = known[0]
        elif d in BLACK_CARIBBEAN:
            group = "black"
        elif d in PACIFIC:
            group = "pacific_islander"
        for host in HOSTS:
            term = f"{d} {host}"
            if term.replace("-", " ") not in listed and d != host:
                added.setdefault(group, []).append(term)
    for group, terms in sorted(added.items()):
        print(f"{group}: {', '.join(terms)}")


if __name__ == "__main__":
    main(sys.argv[1])
