"""The differentially private aggregate of Benchmarks/dp-policy.yaml computed beside `deid`, with
OpenDP's own mechanism: the same contribution bounding in pandas (each reading clamped to
[0, 2] kWh; at most max_cells months per household, 1488 readings a month, scaled down
beyond), the entity count and the sum (in thousandths of a kWh) per month, OpenDP's integer
Laplace (the discrete Laplace) with the scale OpenDP's privacy map accepts for the epsilon
share, and the same threshold on the noisy count. Prints the time taken and, per published
cell, the noisy and true values; with --deid DIR, reads deid's releases of the same policy
(one per seed) and prints both error distributions.

Usage: python3 dp_peers.py DATA.csv RUNS [--deid DIR]"""
import json
import sys
import time

import numpy as np
import pandas as pd
import opendp.prelude as dp

dp.enable_features("contrib")

EPSILON, MAX_CELLS, MAX_READINGS, UPPER, THRESHOLD, DECIMALS = 10.0, 12, 1488, 2.0, 39, 3
SHARE = EPSILON / 2  # the count and one sum
data, runs = sys.argv[1], int(sys.argv[2])

started = time.time()
frame = pd.read_csv(data, usecols=["LCLid", "tstp", "energy_kwh_hh"], dtype={"LCLid": str, "tstp": str})
frame["month"] = frame["tstp"].str[:7]
frame["kwh"] = frame["energy_kwh_hh"].clip(0, UPPER)
pairs = frame.groupby(["month", "LCLid"]).agg(total=("kwh", "sum"), readings=("kwh", "count")).reset_index()
pairs["total"] = np.where(pairs["readings"] > MAX_READINGS, pairs["total"] * MAX_READINGS / pairs["readings"], pairs["total"])
pairs["units"] = np.round(pairs["total"] * 10**DECIMALS).astype(np.int64)
# A household in 12 months at most: every household of 2013 is (no pair is dropped).
assert pairs.groupby("LCLid").size().max() <= MAX_CELLS
cells = pairs.groupby("month").agg(entities=("LCLid", "count"), units=("units", "sum")).reset_index()
prepared = time.time()

# OpenDP's discrete Laplace on integer vectors, each with the scale its map says spends SHARE.
count_sensitivity = MAX_CELLS
sum_sensitivity = int(np.ceil(MAX_READINGS * UPPER * 10**DECIMALS)) * MAX_CELLS
space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
count_mechanism = dp.m.make_laplace(*space, scale=count_sensitivity / SHARE)
sum_mechanism = dp.m.make_laplace(*space, scale=sum_sensitivity / SHARE)
checks = {
    "count_epsilon": count_mechanism.map(count_sensitivity),
    "sum_epsilon": sum_mechanism.map(sum_sensitivity),
    "count_scale": count_sensitivity / SHARE,
    "sum_scale_kwh": sum_sensitivity / SHARE / 10**DECIMALS,
}
errors = {"entities": [], "kwh_sum": []}
for _ in range(runs):
    noisy_counts = count_mechanism(cells["entities"].tolist())
    noisy_units = sum_mechanism(cells["units"].tolist())
    for index, noisy in enumerate(noisy_counts):
        if noisy >= THRESHOLD:
            errors["entities"].append(noisy - int(cells["entities"][index]))
            errors["kwh_sum"].append((noisy_units[index] - int(cells["units"][index])) / 10**DECIMALS)
finished = time.time()


def summary(values):
    values = np.abs(np.array(values, dtype=float))
    return {"cells": int(len(values)), "mean_abs": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


result = {
    "opendp": {"seconds_prepare": prepared - started, "seconds_noise_all_runs": finished - prepared,
               "seconds_one_run": prepared - started + (finished - prepared) / runs,
               "checks": checks, "errors": {key: summary(value) for key, value in errors.items()}},
}
if len(sys.argv) > 4 and sys.argv[3] == "--deid":
    truth = cells.assign(reading_time=cells["month"] + "-01 00:00:00").set_index("reading_time")
    mine = {"entities": [], "kwh_sum": []}
    import glob

    for path in sorted(glob.glob(sys.argv[4] + "/*/*.csv")):
        release = pd.read_csv(path, dtype={"tstp": str})
        for _, row in release.iterrows():
            true = truth.loc[row["tstp"]]
            mine["entities"].append(int(row["entities"]) - int(true["entities"]))
            mine["kwh_sum"].append(float(row["energy_kwh_hh_sum"]) - int(true["units"]) / 10**DECIMALS)
    result["deid"] = {"errors": {key: summary(value) for key, value in mine.items()}}
print(json.dumps(result, indent=2))
