"""Loads debias outputs with the Python data tools users live in; exits non-zero on any failure.

    python tests/loaders.py APPLY_OUT ATTRIBUTES_DIR [EMBED_OUT]

Run by tests/it/formats.rs (`outputs_load_in_python_data_tools`) with the venv of
tests/loaders-venv.sh: pyarrow, polars, DuckDB and Hugging Face `datasets`.
"""
import glob
import os
import sys

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402
import duckdb  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

apply_out, attrs = sys.argv[1], sys.argv[2]
emb = sys.argv[3] if len(sys.argv) > 3 else None
checks = []


def check(name, ok, detail=""):
    checks.append((name, ok))
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))


data_files = sorted(glob.glob(os.path.join(apply_out, "data", "**", "*.parquet"), recursive=True))
rows = sum(pq.ParquetFile(f).metadata.num_rows for f in data_files)

# The apply output as a Hugging Face dataset: its card's configs select the data files.
d = datasets.load_dataset(apply_out, split="train")
check("datasets.load_dataset(apply output)", len(d) == rows, f"{len(d)} rows, {rows} in the files")
check("provenance columns in datasets", "debias_id" in d.column_names and "debias_weight" in d.column_names)
check("polars reads the apply output", pl.read_parquet(data_files).height == rows)
partitions = sorted({seg.split("=")[0] for f in data_files for seg in f.split(os.sep) if "=" in seg})
check("the apply output is partitioned (lang=...)", partitions == ["lang"], str(partitions))
for col in partitions:
    check(f"datasets keeps the partition column `{col}`", col in d.column_names, str(d.column_names))
    check(f"polars keeps the partition column `{col}`", col in pl.read_parquet(data_files).columns)
    hive = duckdb.sql(
        f"SELECT count(*) FROM read_parquet({data_files!r}, hive_partitioning=true) WHERE {col} IS NOT NULL"
    ).fetchall()[0][0]
    check(f"DuckDB with Hive partitioning reads `{col}`", hive == rows)
n = duckdb.sql(f"SELECT count(*) FROM read_parquet({data_files!r})").fetchall()[0][0]
check("DuckDB reads the apply output", n == rows)

# The attributes: a list of {group, mentions} structs, not a Map.
attr_files = sorted(glob.glob(os.path.join(attrs, "*.parquet")))
a = datasets.load_dataset("parquet", data_files=attr_files, split="train")
m = a.features["debias_mentions"]
check("datasets reads the attributes' mentions", "group" in str(m) and "mentions" in str(m), str(m))
first = next((r for r in a if r["debias_mentions"]), None)
check("a mention is {group, mentions}", first is not None and set(first["debias_mentions"][0]) == {"group", "mentions"})
check("polars reads the attributes", pl.read_parquet(attr_files).height == len(a))
g = duckdb.sql(
    f"SELECT count(*) FROM (SELECT unnest(debias_mentions) AS m FROM read_parquet({attr_files!r})) WHERE m.mentions > 0"
).fetchall()[0][0]
check("DuckDB unnests the mentions", g > 0)

if emb:
    emb_files = sorted(glob.glob(os.path.join(emb, "data", "*.parquet")))
    t = pq.read_table(emb_files)
    check("pyarrow reads embedding as fixed_size_list", str(t.schema.field("embedding").type).startswith("fixed_size_list"))
    kv = {k.decode(): v.decode() for k, v in (pq.read_schema(emb_files[0]).metadata or {}).items()}
    check("the model is in the metadata", kv.get("debias.pooling") == "mean" and "debias.model" in kv)
    s = duckdb.sql(
        f"SELECT array_cosine_similarity(embedding::FLOAT[{kv['debias.dim']}], embedding::FLOAT[{kv['debias.dim']}]) "
        f"FROM read_parquet({emb_files!r}) LIMIT 1"
    ).fetchall()[0][0]
    check("DuckDB cosine of FLOAT[dim]", abs(s - 1.0) < 1e-4, str(s))

sys.exit(0 if all(ok for _, ok in checks) else 1)
