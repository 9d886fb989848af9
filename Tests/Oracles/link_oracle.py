#!/usr/bin/env python3
"""Independent oracle for `deid link`'s exact measures, with pandas.

Usage: link_oracle.py LEFT RIGHT --on COLUMN[:NORMALIZER] ... [--left-entity C] [--right-entity C]
NORMALIZER: exact (default), number, day (dates/timestamps to the day), prefixN (first N
characters), bands (numbers into the other side's interval labels `[a,b)`, `<a`, `>=b`),
gridS (numbers to their cell floor(x / S) of a grid of step S: coordinates gridded to cell
centres, or rounded down to multiples of S, against raw ones).
Prints JSON: left_records, unique_links, also_unique_in_left, joinability, joined_min_class_size.

Definitions (Docs/LINKAGE.md): a left individual (entity value, or record) links when one of
its join tuples is held by exactly one right individual; rows with an empty join value join
nothing; joinability is the share of the left side's distinct tuples the right side holds.
"""
import argparse
import json
import math
import re

import pandas as pd


def band_of(value, labels):
    try:
        number = float(value)
    except ValueError:
        return value
    for label in labels:
        m = re.fullmatch(r"\[(.+),(.+)\)", label)
        if m and float(m.group(1)) <= number < float(m.group(2)):
            return label
        if label.startswith(">=") and number >= float(label[2:]):
            return label
        if label.startswith("<") and not label.startswith("<=") and number < float(label[1:]):
            return label
    return None


def normalize(frame, column, how, other):
    values = frame[column]
    if how == "exact":
        return values
    if how == "number":
        return values.map(lambda v: None if v == "" else float(v))
    if how == "day":
        return values.map(lambda v: None if v == "" else v[:10])
    if how.startswith("prefix"):
        n = int(how[6:])
        return values.map(lambda v: None if v == "" else v[:n])
    if how.startswith("grid"):
        step = float(how[4:])
        return values.map(lambda v: None if v == "" else math.floor(float(v) / step + 1e-6))
    if how == "bands":
        labels = sorted(set(other[column]) - {""})
        return values.map(lambda v: None if v == "" else band_of(v, labels))
    raise SystemExit(f"unknown normalizer {how}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("left")
    parser.add_argument("right")
    parser.add_argument("--on", action="append", required=True)
    parser.add_argument("--left-entity")
    parser.add_argument("--right-entity")
    args = parser.parse_args()
    left = pd.read_csv(args.left, dtype=str, keep_default_na=False, sep=None, engine="python")
    right = pd.read_csv(args.right, dtype=str, keep_default_na=False, sep=None, engine="python")
    columns, hows = [], []
    for spec in args.on:
        name, _, how = spec.partition(":")
        columns.append(name)
        hows.append(how or "exact")

    def keyed(frame, other, entity):
        out = pd.DataFrame({c: normalize(frame, c, h, other) for c, h in zip(columns, hows)})
        out["_who"] = frame[entity] if entity else frame.index.astype(str)
        return out

    lk = keyed(left, right, args.left_entity)
    rk = keyed(right, left, args.right_entity)
    left_records = lk["_who"].nunique()
    lj = lk.dropna(subset=columns)
    rj = rk.dropna(subset=columns)
    rcount = rj.groupby(columns)["_who"].nunique().rename("right_n").reset_index()
    lcount = lj.groupby(columns)["_who"].nunique().rename("left_n").reset_index()
    pairs = lj.drop_duplicates(subset=columns + ["_who"]).merge(rcount, on=columns, how="left").merge(lcount, on=columns, how="left")
    linked = pairs[pairs.right_n == 1]
    tuples = lcount.merge(rcount, on=columns, how="left")
    shared = tuples.dropna(subset=["right_n"])
    print(json.dumps({
        "left_records": int(left_records),
        "unique_links": int(linked["_who"].nunique()),
        "also_unique_in_left": int(linked[linked.left_n == 1]["_who"].nunique()),
        "joinability": float(len(shared) / len(tuples)) if len(tuples) else 0.0,
        "joined_min_class_size": int(shared.right_n.min()) if len(shared) else None,
    }))


if __name__ == "__main__":
    main()
