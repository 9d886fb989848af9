#!/usr/bin/env python3
"""The Spark integration against `deid publish` on one machine (run by `make test`).

Runs deid_spark.py with pyspark in local[2] mode on two inputs cut into several files:
  - the London smart-meter readings (../shared/datasets/lcl_smartmeter) joined with each
    household's tariff and ACORN group, cut at line counts that split households between files,
    and for monthly totals cut at household boundaries, then sorted by time and cut into
    periods (the job moves the records by household: `deid split`);
  - a generated table whose free-text column holds quoted line breaks, commas and quotes
    (whole files, and moved by person).
Each must give the release `deid publish` writes from the whole input with the same seed: the
same data bytes (the London policy adds noise: seeded per record, it is the same), the same
manifest (less the release id, the time and the search's milliseconds) and report.json. Fails
loudly when the London data is missing.
"""
import argparse
import csv
import gzip
import io
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LCL = os.path.join(ROOT, "..", "shared", "datasets", "lcl_smartmeter")
KEY = "spark-test-key-of-at-least-thirty-two-bytes"


def write_policy(directory, name, entity, protection, columns):
    """`name`.yaml in `directory`: a policy of dataset `name` with its entity, its protection
    section (one YAML line) and each column's entry; returns its path."""
    path = os.path.join(directory, f"{name}.yaml")
    with open(path, "w") as handle:
        handle.write(f"version: 1\ndataset: {{ name: {name} }}\nentity: {entity}\n{protection}\ncolumns:\n")
        for column, entry in columns.items():
            handle.write(f"  {column}: {entry}\n")
    return path


def london_files(directory, cuts):
    """The 100 households' 2013 readings with tariff and ACORN group, cut into files."""
    readings = os.path.join(LCL, "lcl_2013_100households_halfhourly.csv.gz")
    households = os.path.join(LCL, "informations_households.csv")
    for path in (readings, households):
        if not os.path.exists(path):
            raise SystemExit(f"test_deid_spark: {path} is missing (../shared/datasets)")
    info = {}
    with open(households, newline="") as handle:
        for row in csv.DictReader(handle):
            info[row["LCLid"]] = (row["stdorToU"], row["Acorn"])
    lines = ["LCLid,tariff,acorn,tstp,energy_kwh_hh\n"]
    with gzip.open(readings, "rt", newline="") as handle:
        next(handle)
        for line in handle:
            household, rest = line.split(",", 1)
            tariff, acorn = info[household]
            lines.append(f"{household},{tariff},{acorn},{rest}")
    with open(os.path.join(directory, "acorn.csv"), "w") as handle:
        for letter in "ABCDEFGHIJKLMNOPQU":
            group = "affluent" if letter in "ABCDE" else "comfortable" if letter in "FGHIJ" else "other"
            handle.write(f"ACORN-{letter};{group};*\n")
        handle.write("ACORN-;other;*\nACORN-0;other;*\n")
    policy = write_policy(directory, "london", "LCLid", "privacy: { k: 5, suppression_limit: 0.2 }", {
        "LCLid": '{ role: identifier, pseudonymize: { key: "env:DEID_KEY", length: 16 } }',
        "tariff": "{ role: quasi_identifier }",
        "acorn": "{ role: quasi_identifier, generalize: { hierarchy: acorn.csv } }",
        "tstp": "{ role: insensitive, generalize: { time: hour } }",
        "energy_kwh_hh": "{ role: insensitive, noise: { laplace: 0.02, min: 0, round: 3 } }",
    })
    return policy, write_cut(directory, "london", lines, cuts, gzip_index=1)


def london_monthly_files(directory, london_policy):
    """The London files cut again at household boundaries, and a policy of monthly totals."""
    lines = []
    for index in range(4):
        path = os.path.join(directory, f"london-{index}.csv" + (".gz" if index == 1 else ""))
        with (gzip.open(path, "rt", newline="") if index == 1 else open(path, newline="")) as handle:
            header = next(handle)
            lines.extend(handle)
    households = [line.split(",", 1)[0] for line in lines]
    cuts = []
    for fraction in (0.3, 0.6):
        position = int(len(lines) * fraction)
        while households[position] == households[position - 1]:
            position += 1
        cuts.append((position + 0.5) / len(lines))
    with open(london_policy) as handle:
        text = handle.read()
    text = text.replace("privacy: { k: 5, suppression_limit: 0.2 }\n", "risk: { min_class_size: 5 }\n")
    text = text.replace("generalize: { hierarchy: acorn.csv }", "generalize: { hierarchy: acorn.csv, level: 2 }")
    text = text.replace("tstp: { role: insensitive, generalize: { time: hour } }",
                        "tstp: { role: insensitive, aggregate: { every: month, sum: [energy_kwh_hh] } }")
    text = text.replace("noise: { laplace: 0.02, min: 0, round: 3 }", "noise: { laplace: 5, min: 0, round: 1 }")
    policy = os.path.join(directory, "london-monthly.yaml")
    with open(policy, "w") as handle:
        handle.write(text)
    paths = write_cut(directory, "monthly", [header] + lines, cuts, gzip_index=None)
    return policy, paths


def time_ordered_files(directory, monthly_inputs):
    """The monthly files' records sorted by time and cut into three periods (one gzip): every
    household has records in every file, as in a meter export written day by day."""
    header, records = None, []
    for path in monthly_inputs:
        with open(path, newline="") as handle:
            header = next(handle)
            records.extend(handle)
    records.sort(key=lambda line: (line.split(",")[3], line))
    return write_cut(directory, "by-time", [header] + records, [0.34, 0.67], gzip_index=2)


def quoted_files(directory, cuts):
    """A generated table with quoted line breaks, commas and quotes in its free text."""
    generator = random.Random(7)
    lines = ["person,district,age,note,value\n"]
    for row in range(6000):
        person = f"P{generator.randrange(900):04d}"
        district = generator.choice(["N1 2AB", "N1 9ZZ", "E8 1QQ", "E8 4RT", "SW1A 1AA", "SE15 3JJ"])
        note = generator.choice(["plain", 'said "hello"', "line one\nline two", "a, b\r\nand c", ""])
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(
            [person, district, 20 + int(person[1:]) % 60, note, generator.randrange(1000)])
        lines.append(buffer.getvalue())
    policy = write_policy(directory, "quoted", "person", "privacy: { k: 3, suppression_limit: 0.1 }", {
        "person": '{ role: identifier, pseudonymize: { key: "env:DEID_KEY" } }',
        "district": "{ role: quasi_identifier, generalize: { prefix: [3, 2, 0] } }",
        "age": "{ role: quasi_identifier, generalize: { round: [5, 10, 20] } }",
        "note": "{ role: insensitive }",
        "value": "{ role: insensitive }",
    })
    return policy, write_cut(directory, "quoted", lines, cuts, gzip_index=None)


def write_cut(directory, name, lines, cuts, gzip_index):
    """`lines` (a header and records) cut before the given record numbers, a file each."""
    header, records = lines[0], lines[1:]
    bounds = [0] + [int(len(records) * cut) for cut in cuts] + [len(records)]
    paths = []
    for index in range(len(bounds) - 1):
        path = os.path.join(directory, f"{name}-{index}.csv" + (".gz" if index == gzip_index else ""))
        opener = gzip.open if index == gzip_index else open
        with opener(path, "wt", newline="") as handle:
            handle.write(header)
            handle.writelines(records[bounds[index]:bounds[index + 1]])
        paths.append(path)
    return paths


def records_of(paths):
    """Every record of CSV files (headers checked equal, then dropped), sorted."""
    header, rows = None, []
    for path in paths:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            first = next(reader)
            if header is not None and first != header:
                raise AssertionError(f"{path}: header {first} differs from {header}")
            header = first
            rows.extend(tuple(row) for row in reader)
    return header, sorted(rows)


def compare(name, deid, policy, inputs, directory, expect_suppressed, same_order=True, layout="auto",
            expect_layout="files"):
    """The Spark job's release of `inputs` against deid publish's. With `same_order` the data
    files must be the same bytes; else (rows aggregated per entity and period, which one
    machine writes as each entity's buckets close; records moved by entity) the same records in
    another order. `expect_layout`: whether the job must have moved records by entity."""
    env = dict(os.environ, DEID_KEY=KEY)
    release = os.path.join(directory, f"{name}-one-machine")
    subprocess.run(
        [deid, "publish", "--policy", policy, "--no-catalog", "--seed", "5", "--out", release] + inputs,
        check=True, env=env, stdout=subprocess.DEVNULL)
    spark_release = os.path.join(directory, f"{name}-spark")
    work = os.path.join(directory, f"{name}-spark-work")
    result = subprocess.run(
        [sys.executable, os.path.join(HERE, "deid_spark.py"), "--master", "local[2]", "--partitions", "2",
         "--deid", deid, "--policy", policy, "--no-catalog", "--seed", "5", "--keep-work", work, "--layout", layout,
         "--out", spark_release] + inputs,
        env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{name}: deid_spark.py exited {result.returncode}:\n{result.stderr[-3000:]}")
    one, spark = (load_release(path) for path in (release, spark_release))
    failures = []
    if sorted(spark["files"]) != sorted(one["files"]):
        failures.append(f"files {spark['files']} != {one['files']}")
    # The parts are assembled in input order: the data is the same bytes.
    if same_order and spark["data"] != one["data"]:
        failures.append("the data files differ")
    if sorted(spark["data"].split(b"\n")) != sorted(one["data"].split(b"\n")):
        failures.append("the data files hold other records")
    for key in ("rows", "columns", "records", "privacy", "seed"):
        if spark["manifest"].get(key) != one["manifest"].get(key):
            failures.append(f"manifest {key}:\n  spark {spark['manifest'].get(key)}\n  one   {one['manifest'].get(key)}")
    for key in ("sha256", "bytes", "columns", "file") if same_order else ("bytes", "columns", "file"):
        if spark["manifest"]["data"][key] != one["manifest"]["data"][key]:
            failures.append(f"manifest data.{key} differs")
    if sorted(spark["manifest"]["inputs"], key=str) != sorted(one["manifest"]["inputs"], key=str):
        failures.append("manifest inputs differ")
    if spark["report"] != one["report"]:
        keys = [k for k in one["report"] if spark["report"].get(k) != one["report"][k]]
        failures.append(f"report.json differs in {keys}")
    # The confidential report charts each changed column's input: one machine's charts when
    # the partitions are whole files (cut into blocks as one machine cuts them), charts of
    # another sample of the same input when the records were moved.
    if same_order and spark["before"] != one["before"]:
        failures.append("the report's input charts differ")
    if name == "london" and not one["before"]:
        failures.append("one machine's confidential report charts no input: nothing was compared")
    if len(spark["before"]) != len(one["before"]):
        failures.append(f"{len(spark['before'])} input charts where one machine has {len(one['before'])}")
    if expect_suppressed and one["manifest"]["privacy"]["suppressed_records"] == 0:
        failures.append("the test data suppresses nothing; it should exercise suppression")
    _, rows = records_of([os.path.join(release, one["manifest"]["data"]["file"])])
    if name == "quoted" and not any("\n" in field for row in rows for field in row):
        failures.append("no quoted line break reached the release")
    if failures:
        raise AssertionError(f"{name}: " + "\n".join(failures))
    with open(os.path.join(work, "shards.json")) as handle:
        shards = json.load(handle)
    seconds = shards["seconds"]
    if shards["layout"] != expect_layout:
        raise AssertionError(f"{name}: partitions of layout {shards['layout']}, expected {expect_layout}")
    privacy = one["manifest"].get("privacy")
    searched = (f"suppressed {privacy['suppressed_records']}, transformation {privacy['transformation']}"
                if privacy else "no privacy models")
    print(
        f"test_deid_spark: {name}: {len(rows)} records from {len(inputs)} files on 2 partitions of whole "
        f"{'entities' if expect_layout == 'entity' else 'files'}: the same data"
        f"{'' if same_order else ' (sorted)'}, "
        f"manifest and report.json as one machine ({searched}; Spark steps {seconds})")


def load_release(path):
    """A release directory's files, manifest (less what differs between any two releases),
    report.json (less the release id and the time) and data bytes."""
    with open(os.path.join(path, "manifest.json")) as handle:
        manifest = json.load(handle)
    if manifest.get("privacy"):
        manifest["privacy"]["search"].pop("milliseconds")
    with open(os.path.join(path, "report.json")) as handle:
        report = json.load(handle)
    with open(os.path.join(path, manifest["data"]["file"]), "rb") as handle:
        data = handle.read()
    before = []
    confidential = os.path.join(path, "confidential", "report.html")
    if os.path.exists(confidential):
        with open(confidential) as handle:
            before = [chart.split("</svg>")[0] for chart in handle.read().split("before (input)")[1:]]
    return {"files": os.listdir(path), "manifest": manifest, "report": report, "data": data, "before": before}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deid", default=os.path.join(ROOT, ".build", "debug", "deid"))
    args = parser.parse_args()
    deid = os.path.abspath(args.deid)
    with tempfile.TemporaryDirectory(prefix="deid-spark-test-") as directory:
        policy, inputs = quoted_files(directory, [0.3, 0.55])
        compare("quoted", deid, policy, inputs, directory, expect_suppressed=False)
        # The same records moved by entity first (deid split keeps the quoted line breaks).
        compare("quoted-split", deid, policy, inputs, directory, expect_suppressed=False, same_order=False,
                layout="entity", expect_layout="entity")
        policy, inputs = london_files(directory, [0.23, 0.5, 0.77])
        compare("london", deid, policy, inputs, directory, expect_suppressed=True)

        # No privacy models: no search, the risk section's gate checked on the assembled release.
        with open(policy) as handle:
            gated = handle.read().replace("privacy: { k: 5, suppression_limit: 0.2 }\n", "risk: { min_class_size: 5 }\n")
        gated = gated.replace("generalize: { hierarchy: acorn.csv }", "generalize: { hierarchy: acorn.csv, level: 2 }")
        gated_policy = os.path.join(directory, "london-gated.yaml")
        with open(gated_policy, "w") as handle:
            handle.write(gated)
        compare("london-gated", deid, gated_policy, inputs, directory, expect_suppressed=False)

        # Monthly totals per household: each file holds whole households (aggregating per
        # entity needs each entity in one shard; deid plan refuses otherwise).
        monthly_policy, monthly_inputs = london_monthly_files(directory, policy)
        compare("london-monthly", deid, monthly_policy, monthly_inputs, directory, expect_suppressed=False,
                same_order=False)
        # The same readings exported by time: every household in every file. The first step's
        # statistics show entities in both partitions, so the job moves records by entity.
        compare("london-by-time", deid, monthly_policy, time_ordered_files(directory, monthly_inputs), directory,
                expect_suppressed=False, same_order=False, expect_layout="entity")

        # A refusal: nothing is left, exit 1, the reasons printed.
        with open(policy) as handle:
            strict = handle.read().replace("k: 5, suppression_limit: 0.2", "k: 90")
        strict_policy = os.path.join(directory, "strict.yaml")
        with open(strict_policy, "w") as handle:
            handle.write(strict)
        out = os.path.join(directory, "refused")
        result = subprocess.run(
            [sys.executable, os.path.join(HERE, "deid_spark.py"), "--master", "local[2]", "--deid", deid,
             "--policy", strict_policy, "--out", out] + inputs,
            env=dict(os.environ, DEID_KEY=KEY), capture_output=True, text=True)
        if result.returncode != 1 or "no transformation satisfies" not in result.stderr or os.path.exists(out):
            raise AssertionError(f"refusal: exit {result.returncode}, exists {os.path.exists(out)}:\n{result.stderr[-2000:]}")
        leftovers = [name for name in os.listdir(directory) if name.startswith(".refused")]
        if leftovers:
            raise AssertionError(f"refusal left {leftovers}")
        print("test_deid_spark: a refused plan leaves nothing and exits 1")

        # A malformed file among the inputs: the executor's deid names it and its line; exit 2,
        # nothing left.
        broken = os.path.join(directory, "london-broken.csv")
        with open(broken, "w") as handle:
            handle.write("LCLid,tariff,acorn,tstp,energy_kwh_hh\nMAC000002,Std,ACORN-A,2013-01-01 00:00:00\n")
        out = os.path.join(directory, "broken")
        result = subprocess.run(
            [sys.executable, os.path.join(HERE, "deid_spark.py"), "--master", "local[2]", "--deid", deid,
             "--policy", policy, "--out", out] + inputs + [broken],
            env=dict(os.environ, DEID_KEY=KEY), capture_output=True, text=True)
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        if result.returncode != 2 or "london-broken.csv:2" not in result.stderr or os.path.exists(out):
            raise AssertionError(f"bad input: exit {result.returncode}:\n{result.stderr[-2000:]}")
        if "Traceback" in result.stderr.split("deid_spark:")[-1]:
            raise AssertionError(f"bad input: the deid message is buried in a trace:\n{result.stderr[-2000:]}")
        print(f"test_deid_spark: a malformed input is named and nothing is left ({last.strip()[:120]})")


if __name__ == "__main__":
    main()
