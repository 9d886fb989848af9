"""PipelineDP (LocalBackend) on the aggregate of Benchmarks/dp-policy.yaml: per month, the
households (PRIVACY_ID_COUNT) and the sum of their readings clamped to [0, 2] kWh, epsilon 10,
delta 1e-6 (PipelineDP spends it on its own partition selection), at most 12 months per
household and 1488 readings a month. Prints the time taken and the errors against the true
values, like dp_peers.py. Usage: python3 pipelinedp_peer.py DATA.csv RUNS"""
import csv
import json
import sys
import time
from collections import defaultdict

import numpy as np
import pipeline_dp

data, runs = sys.argv[1], int(sys.argv[2])
started = time.time()
with open(data, newline="") as handle:
    reader = csv.reader(handle)
    header = next(reader)
    who, when, what = header.index("LCLid"), header.index("tstp"), header.index("energy_kwh_hh")
    rows = [(row[who], row[when][:7], float(row[what])) for row in reader if row[what] != ""]
read = time.time()

truth_entities, truth_sum = defaultdict(set), defaultdict(float)
for household, month, kwh in rows:
    truth_entities[month].add(household)
    truth_sum[month] += min(max(kwh, 0.0), 2.0)

errors = {"entities": [], "kwh_sum": []}
seconds = []
for _ in range(runs):
    begin = time.time()
    accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=10, total_delta=1e-6)
    engine = pipeline_dp.DPEngine(accountant, pipeline_dp.LocalBackend())
    params = pipeline_dp.AggregateParams(
        noise_kind=pipeline_dp.NoiseKind.LAPLACE,
        metrics=[pipeline_dp.Metrics.PRIVACY_ID_COUNT, pipeline_dp.Metrics.SUM],
        max_partitions_contributed=12, max_contributions_per_partition=1488, min_value=0.0, max_value=2.0)
    extractors = pipeline_dp.DataExtractors(
        privacy_id_extractor=lambda row: row[0], partition_extractor=lambda row: row[1],
        value_extractor=lambda row: row[2])
    result = engine.aggregate(rows, params, extractors)
    accountant.compute_budgets()
    for month, metrics in list(result):
        errors["entities"].append(metrics.privacy_id_count - len(truth_entities[month]))
        errors["kwh_sum"].append(metrics.sum - truth_sum[month])
    seconds.append(time.time() - begin)


def summary(values):
    values = np.abs(np.array(values, dtype=float))
    return {"cells": int(len(values)), "mean_abs": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


print(json.dumps({"pipelinedp": {
    "seconds_read": read - started, "seconds_one_run": float(np.median(seconds)),
    "errors": {key: summary(value) for key, value in errors.items()}}}, indent=2))
