#!/usr/bin/env python3
"""Writes rules/lexicons/person.yaml: the nouns for people that `person` context rules look for.

Its inputs are the WordNet person nouns printed by wordnet_people.py and the authored lists below
(common words WordNet files elsewhere or only in the plural, nouns for groups, pronouns). Nouns that
the axis lexicons' own person rules describe (black, native, senior...) and nouns as often used as
adjectives or modifiers become `head_only`: they count only at the end of a noun phrase. DROP lists
WordNet person nouns that are mostly other words in running text (have: "the haves", star, soul).

    python3 rules/lexicons/tools/wordnet_people.py WORDNET_DIR > people.txt
    python3 rules/lexicons/tools/make_person.py people.txt   # run from the repository root
"""
import glob
import sys
import textwrap

import yaml

wn=[l.strip() for l in open(sys.argv[1]) if l.strip()]
ruled=set()
for f in glob.glob('rules/lexicons/*.yaml'):
    d=yaml.safe_load(open(f))
    if d.get('kind','axis')!='axis': continue
    for c in d.get('context') or []:
        if 'person' in c:
            for t in ([c['term']] if 'term' in c else c.get('terms',[])):
                ruled.add(t)

authored_people = """
person people persons individual human guy gal dude bro sis folk folks kid lady gentleman gentlemen
fella fellow buddy pal mate chap bloke lad lass fan troops soldier host mom mum mommy mummy mama dad
daddy papa grandma grandpa granny grandparent grandchild grandchildren sibling spouse partner
stepmother stepfather stepmom stepdad stepson stepdaughter stepchild stepchildren in-law teen
teenager youngster toddler infant newborn boyfriend girlfriend husband wife wives widow widower
fiance fiancee fiancé fiancée bride groom twin cousin nephew niece aunt uncle sister brother son
daughter parent child children baby boy girl man men woman women adult elder senior retiree
pensioner student pupil classmate colleague coworker co-worker neighbor neighbour roommate flatmate
friend acquaintance stranger resident citizen voter worker employee employer customer client patient
victim survivor suspect inmate prisoner immigrant migrant refugee expat expatriate foreigner settler
colonist native national newcomer visitor tourist traveler traveller athlete player actor actress
singer musician artist writer author poet leader politician candidate official officer activist
protester protestor rioter member owner entrepreneur professional volunteer character hero heroine
star celebrity icon idol influencer user applicant recipient participant respondent speaker listener
viewer reader everybody idiot fool jerk genius nerd geek weirdo cop doctor nurse teacher lawyer
judge scientist engineer farmer driver pilot cook chef guard veteran vet recruit cadet sailor marine
pirate monk nun priest pastor minister rabbi imam believer worshipper worshiper congregant
churchgoer pilgrim convert follower adherent devotee disciple preacher cleric clergyman clergymen
clergywoman clergywomen mother father grandmother grandfather king queen prince princess emperor
boss manager staffer freshman freshmen sophomore junior schoolmate teammate shopkeeper storekeeper
homeowner homemaker housewife housewives caregiver carer sweetheart toddler preteen tween millennial
boomer zoomer centenarian octogenarian nonagenarian policeman policemen policewoman policewomen
fireman firemen chairman chairmen businessman businessmen businesswoman businesswomen spokesman
spokesmen spokeswoman spokeswomen sportsman sportsmen sportswoman sportswomen countryman countrymen
countrywoman countrywomen tradesman tradesmen craftsman craftsmen gentleman congressman congressmen
congresswoman congresswomen group groups baker miller cooper smith butler porter turner fisher
hunter archer mason foreman barber weaver potter tanner sawyer wright carter chandler shepherd usher
draper fowler
""".split()
groups = """
community population family household crowd audience public congregation electorate diaspora
minority majority generation tribe clan couple team squad staff crew workforce population society
nation populace citizenry faithful parish cohort gang neighborhood neighbourhood membership class
""".split()
pronouns = """
i you he she we they me him her us them who whom whoever someone somebody anyone anybody everyone
everybody nobody one ones other others both each all many most some few several none xe xem ze zir
hir ey em fae
""".split()
DROP = """
have amen aeon iowa leo prey rip quad temp icon hood hack hire rex ted tom lir ullr leto amon amun
erie cog flak gull mod pop roc tao wyrd yana dada muse hob gob lulu maha ofo ull snot puke dud tike
soul star ward deal draw pick hit catch check cover light lead mark match model sign stamp spot
strike plant power press saint
""".split()
SPECIAL={'y','n','yes','no','on','off','true','false','null'}
def q(w): return f'"{w}"' if w.lower() in SPECIAL else w
def flow(words, indent):
    body=", ".join(q(w) for w in words)
    lines=textwrap.wrap(body, width=112-indent-1, break_long_words=False, break_on_hyphens=False)
    pad=" "*indent
    return "[" + ("\n"+pad+" ").join(lines) + "]"
# singular people nouns: drop authored plurals that are regular plurals of a listed singular
nouns=(set(wn)|set(authored_people))-set(DROP)-set(pronouns)-set(groups)-{'peoples','youths'}
def regular_plural(w):
    if any(w.endswith(e) for e in ['s','x','z','ch','sh']): return w+'es'
    if w.endswith('y') and w[-2:-1] not in 'aeiou': return w[:-1]+'ies'
    return w+'s'
plurals={regular_plural(w) for w in nouns}
ADJ_LIKE = set('''human national native senior junior professional official character marine host minor general private
major regular domestic criminal liberal conservative radical moderate republican democrat intellectual individual
adult juvenile independent rival graduate undergraduate sophomore freshman alien giant elite amateur master
principal chief superior subordinate natural mortal ordinary commercial creative opposite classic primitive
relative mutual familiar favorite favourite intimate representative executive legislative military civilian
pedestrian teen toddler folk peer fan'''.split())
ADJ_LIKE |= {w for w in nouns if w in ruled}
keep_plural = {(w[:-3]+'men' if w.endswith('man') and w not in ('human','german','roman','shaman') else regular_plural(w)) for w in ADJ_LIKE if w in nouns} | {'groups'}
sing=sorted(w for w in nouns if w not in plurals and w not in ADJ_LIKE)
heads=sorted(w for w in ADJ_LIKE if w in nouns or w in ('group','national','native','representative'))
irregular=sorted(w for w in nouns if w in plurals and False)
gplur={regular_plural(w) for w in groups}
gs=sorted(set(w for w in groups if w not in gplur))
out=f"""name: person
kind: person
description: >-
  Words for people, which `person` context rules look for: an adjective of an axis (old, black, French, deaf)
  counts before one of these nouns ("an old man", "French troops", "a Black husband"), or said of a person named
  by one of them or by a pronoun ("the man was deaf", "she is deaf"). `people` and `groups` hold nouns for a
  person and for a group of people, matched with their regular plurals (irregular plurals such as men and
  children are listed); `pronouns` hold the words that stand for people as the subject of a linking verb ("they
  are gay", "one of them is Hungarian", "a friend who is blind"). The built-in rules also count the one-word
  terms of the occupations lexicon and the first names of gender_first_names as words for people (`person:` in
  rules/README.md). This lexicon counts nothing itself.
sources: [wordnet, authored]
groups:
  people:
    description: >-
      Nouns for a person: the one-word nouns of WordNet 3.0 whose most frequent sense is a person and that are
      not used more often as adjectives or in other senses (rules/lexicons/tools/wordnet_people.py), and common
      words that WordNet files elsewhere or lists only in the plural (person, people, folks, troops, fans, guy,
      mom)
    terms: {flow(sing, 11)}
    # Plurals of the head_only nouns below.
    exact: {flow(sorted(keep_plural), 11)}
  head_only:
    description: >-
      Nouns for a person or group that are as often adjectives or modifiers before another noun ("the national
      team", "a senior official", "representative democracy", "a Hindu temple"): they count only at the end of a
      noun phrase ("an autistic representative and", "a French national.", "a British group had booked"); their
      plurals, always nouns, are in `people`
    exact: {flow(heads, 11)}
  groups:
    description: Nouns for a group of people (community, population, family, crowd, generation)
    terms: {flow(gs, 11)}
  pronouns:
    description: >-
      Pronouns and quantifiers that stand for people as a subject ("they are", "one of them is", "a friend who
      is"), including the neopronouns xe, ze, hir and ey
    exact: {flow(sorted(set(pronouns)), 11)}
notes:
  - "it, this, that, which: stand for things; a linking verb after them is not said of people ('it is old')."
  - "first names: the built-in rules add gender_first_names' names for subjects ('Martha is white'); a capitalised
    word before a linking verb that is not a function word also counts as a name ('Obama is Black')."
  - "WordNet's person nouns include rare and archaic words and a few that are mostly used otherwise in some
    domains (runner, dragon); they matter only after an adjective of an axis."
"""
open('rules/lexicons/person.yaml','w').write(out)
print(len(sing), 'people,', len(heads), 'head_only,', len(gs), 'groups', file=sys.stderr)
