"""Side by side with the Python peers, on the same machine and the same BOLD sentences.

    cargo build --release
    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python benches/peers/compare.py --debias target/release/debias --model MODEL_DIR

(`CARGO_TARGET_DIR` moves `target/`.) Two comparisons, each printing both tools' figures and their ratio:

1. Sentence embeddings: sentence-transformers (PyTorch, CPU, f32, batch 64) against `debias embed` (candle,
   CPU, f32), all-MiniLM-L6-v2, on the first N BOLD sentences. Sentences per second of the encoding itself:
   sentence-transformers' `encode` call, and debias's own timing (it prints its rate, model loading excluded).
2. Counting group terms: a WIMBD-style Python count (a compiled regex of whole words over lower-cased text,
   the way WIMBD and the HF data-measurements tool count) of the gender lexicon's terms, against
   `debias scan` with every built-in lexicon. MB of text per second, whole runs.
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import time


def bold(n):
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "../../../shared/data/bold/bold_wikipedia.jsonl")
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r["text"] for r in rows[:n]]


def embed(args, texts, tmp):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.model, device="cpu")
    model.encode(texts[:64], batch_size=64)  # warm-up
    t = time.perf_counter()
    model.encode(texts, batch_size=64)
    st = len(texts) / (time.perf_counter() - t)

    path = os.path.join(tmp, "sentences.jsonl")
    with open(path, "w") as f:
        for i, s in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": s}) + "\n")
    out = os.path.join(tmp, "emb")
    r = subprocess.run(
        [args.debias, "embed", path, "--model", args.model, "--output", out, "--overwrite",
         "--threads", str(args.threads)],
        capture_output=True, text=True, check=True)
    m = re.search(r"([0-9.]+) documents/s", r.stderr)
    db = float(m.group(1))
    print(f"embeddings, {len(texts)} BOLD sentences, CPU f32, {args.threads} threads:")
    print(f"  sentence-transformers {st:8.1f} sentences/s (torch {torch.__version__})")
    print(f"  debias embed          {db:8.1f} sentences/s")
    print(f"  ratio debias / sentence-transformers: {db / st:.2f}")


def count(args, texts, tmp):
    lex = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../rules/lexicons/gender.yaml")
    terms = re.findall(r"^\s+\[?([a-z][a-z' -]+?)[,\]]", open(lex).read(), re.M)
    words = sorted(set(t.strip() for t in terms if t.strip()), key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    corpus = texts * 10
    size = sum(len(t.encode()) for t in corpus) / 1e6
    t = time.perf_counter()
    n = 0
    for s in corpus:
        n += len(pattern.findall(s.lower()))
    py = size / (time.perf_counter() - t)

    path = os.path.join(tmp, "corpus.jsonl")
    with open(path, "w") as f:
        for i, s in enumerate(corpus):
            f.write(json.dumps({"id": str(i), "text": s}) + "\n")
    t = time.perf_counter()
    subprocess.run([args.debias, "scan", path, "-q", "--report", os.path.join(tmp, "r.json"),
                    "--overwrite", "--threads", str(args.threads)], check=True)
    db = size / (time.perf_counter() - t)
    print(f"term counting, {size:.1f} MB of text:")
    print(f"  Python regex ({len(words)} gender terms)      {py:7.1f} MB/s ({n} matches)")
    print(f"  debias scan (every built-in lexicon) {db:7.1f} MB/s")
    print(f"  ratio debias / Python: {db / py:.2f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--debias", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--sentences", type=int, default=2000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    texts = bold(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        embed(args, texts, tmp)
        count(args, bold(100000), tmp)


if __name__ == "__main__":
    main()
