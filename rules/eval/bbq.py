#!/usr/bin/env python3
"""BBQ contexts as a recall-only labelled set for `debias eval`.

Reads ../shared/data/bbq/bbq_contexts.jsonl (nyu-mll/BBQ, CC BY 4.0) and writes one labelled line per
context of the categories that map to a debias axis, judged on that axis only (`"judged"`): every
BBQ context names at least one person by a group of its category, so each is a positive for recall.

    python3 rules/eval/bbq.py ../shared/data/bbq/bbq_contexts.jsonl > /tmp/bbq.jsonl
    debias eval /tmp/bbq.jsonl
"""
import json
import sys

AXES = {
    "Age": "age",
    "Disability_status": "disability",
    "Nationality": "nationality",
    "Religion": "religion",
    "Sexual_orientation": "sexual_orientation",
}

for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    axis = AXES.get(d["category"])
    if axis:
        print(json.dumps({"id": d["id"], "text": d["context"], "axes": [axis], "judged": [axis]}))
