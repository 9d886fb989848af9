#!/usr/bin/env python3
"""An independent pandas computation of an aggregate release (Docs/AGGREGATES.md), sharing no
code with deid: cells of the `by` columns and a time bucket, the distinct entities in each, the
sum, mean per entity and percentiles of the entities' totals, the minimum-count and (n, k)
dominance rules with suppression, and per bucket a margin (`*`) with complementary
suppression.

Usage: aggregate_oracle.py DATA.csv SPEC.json > expected.csv
SPEC: {"entity", "by": [..], "derive": {col: "outward"|"first2"|..}, "time", "every": "day"|"30min"|
       "hour", "measure", "from", "before", "min_entities", "dominance": [n, percent] | null,
       "percentiles": [..], "margins": bool, "decimals": int}
Prints the expected rows as CSV (deid's column order), sorted as deid sorts them.
"""
import json
import sys

import numpy as np
import pandas as pd

if sys.argv[1] == "join-acorn":
    # The London readings with each household's ACORN group (its quasi-identifiers).
    readings = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
    households = pd.read_csv(sys.argv[3], dtype=str, keep_default_na=False)
    joined = readings.merge(households[["LCLid", "Acorn", "Acorn_grouped"]], on="LCLid", how="left")
    joined.to_csv(sys.argv[4], index=False)
    sys.exit(0)

data_path, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
frame = pd.read_csv(data_path, dtype=str, keep_default_na=False)
time = pd.to_datetime(frame[spec["time"]])
if spec.get("from"):
    keep = (time >= pd.Timestamp(spec["from"])) & (time < pd.Timestamp(spec["before"]))
    frame, time = frame[keep], time[keep]
for column, how in spec.get("derive", {}).items():
    if how == "outward":
        frame[column] = frame[column].str.split(" ").str[0].str[:4]
    elif how.startswith("first"):
        frame[column] = frame[column].str[: int(how[5:])]
every = spec["every"]
bucket = {"day": "D", "hour": "h", "30min": "30min"}[every]
frame["__bucket"] = time.dt.floor(bucket).dt.strftime("%Y-%m-%d %H:%M:%S")
frame["__value"] = pd.to_numeric(frame[spec["measure"]].replace("", np.nan))
by = spec["by"]
keys = by + ["__bucket"]
# The entity's total in each cell (readings without a value add nothing, but the entity counts).
per_entity = frame.groupby(keys + [spec["entity"]], sort=False)["__value"].sum(min_count=0).reset_index()


def fails(totals):
    if len(totals) < spec["min_entities"]:
        return True
    dominance = spec.get("dominance")
    if dominance:
        n, percent = dominance
        total = totals.sum()
        if total > 0 and np.sort(totals)[::-1][:n].sum() > percent / 100 * total * (1 + 1e-12):
            return True
    return False


decimals = spec["decimals"]


def row(label, totals, cells):
    values = np.sort(totals.to_numpy(dtype=float))
    fields = list(label) + [str(len(values))] + ([str(cells)] if spec.get("merge") else []) + [f"{values.sum():.{decimals}f}", f"{values.sum() / len(values):.{decimals + 3}f}"]
    for percentile in spec.get("percentiles", []):
        fields.append(f"{np.percentile(values, percentile):.{decimals + 3}f}")
    return fields


rows = []
for bucket_value, in_bucket in per_entity.groupby("__bucket", sort=True):
    published, suppressed = [], []
    for label, cell in in_bucket.groupby(by, sort=True) if by else [((), in_bucket)]:
        label = label if isinstance(label, tuple) else (label,)
        entry = (tuple(label) + (bucket_value,), cell.set_index(spec["entity"])["__value"])
        (suppressed if fails(cell["__value"]) else published).append(entry)
    if spec.get("merge"):
        # A failing cell goes into its parent (the first `by` value cut to `merge` characters),
        # with the other failing cells of that parent; the merged cell is published when it
        # passes, suppressed when not.
        cut = int(spec["merge"][5:])
        parents = {}
        for label, totals in suppressed:
            parents.setdefault((label[0][:cut],) + label[1:], []).append(totals)
        suppressed = []
        for label, children in sorted(parents.items()):
            totals = pd.concat(children).groupby(level=0).sum()
            entry = (label, totals, len(children))
            (suppressed if fails(totals) else published).append(entry)
    published = [entry if len(entry) == 3 else entry + (1,) for entry in published]
    suppressed = [entry if len(entry) == 3 else entry + (1,) for entry in suppressed]
    margin = None
    if spec.get("margins"):
        totals = in_bucket.groupby(spec["entity"])["__value"].sum()
        if not fails(totals):
            margin = (tuple(["*"] * len(by)) + (bucket_value,), totals, len(in_bucket.groupby(by)) if by else 1)
            if suppressed:

                def union(cells):
                    # An entity in several cells counts once, with its totals added.
                    return pd.concat(cells).groupby(level=0).sum()

                while fails(union([cell for _, cell, _ in suppressed])) and published:
                    published.sort(key=lambda entry: (len(entry[1]), entry[0][-1], entry[0][:-1]))
                    suppressed.append(published.pop(0))
    for label, totals, cells in sorted(published, key=lambda entry: entry[0][:-1]):
        rows.append(row(label, totals, cells))
    if margin:
        rows.append(row(*margin))

header = by + [spec["time"], "entities"] + (["merged_cells"] if spec.get("merge") else []) + [f"{spec['measure']}_sum", f"{spec['measure']}_mean"]
header += [f"{spec['measure']}_p{p:g}" for p in spec.get("percentiles", [])]
print(",".join(header))
for fields in rows:
    print(",".join(f'"{field}"' if "," in field else field for field in fields))
