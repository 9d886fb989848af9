#!/usr/bin/env python3
"""deid on Apache Spark: the release `deid publish` writes on one machine, made by the
executors (Docs/SCALE-OUT.md).

    spark-submit --files deid,policy.yaml Integrations/spark/deid_spark.py \
        --policy policy.yaml --out release-dir /shared/meters/*.csv.gz

Four steps, each the `deid` binary (shipped with --files, or --deid PATH):
  1. per partition: `deid stats` over the partition's whole input files (a file is never
     split, so a quoted line break stays inside its record);
  2. on the driver: `deid stats --merge` and `deid plan` (the merge does not depend on how
     files were grouped: an individual may have records in several partitions);
  3. per partition: `deid apply --plan` on each of its files, one part file per input (and
     its input charts, for the report's before/after charts);
  4. on the driver: `deid publish --plan` assembles the parts, in input order, into the
     release directory (data, manifest.json, reports) and records it in the catalog.

A policy that aggregates per entity needs each entity's records in one partition. When the
input files do not keep them together (a time-ordered export: each file holds a period of every
meter), the records are first moved by entity (--layout entity, or found by --layout auto, the
default, from the first step's statistics): `deid split` deals each input's records into one
part per partition by a hash of the entity, in the work directory; partition N is then part N
of every input, in input order, counted and applied as one shard, and the merge checks the
splits' receipts (every part counted once) so that the manifest lists the original inputs.

The release directory is the one `deid publish --out DIR` writes, all or nothing. The work
files (statistics, the plan, the parts) are written beside it and removed, or kept with
--keep-work DIR (the plan and statistics are confidential: they name entities). On a refusal
(the models cannot be met) nothing is left and the exit code is 1, as with `deid publish`.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="deid_spark.py",
        description="Publish a release with deid on Spark (Docs/SCALE-OUT.md).",
        epilog="Example: spark-submit --files deid,policy.yaml deid_spark.py --policy policy.yaml "
        "--out release /data/meters/",
    )
    parser.add_argument("--policy", required=True, help="the policy file, readable on every executor")
    parser.add_argument("--out", required=True, help="the output directory (must not exist)")
    parser.add_argument("--deid", help="the deid binary on the executors (default: shipped with --files, else on PATH)")
    parser.add_argument("--partitions", type=int, help="partitions (default: Spark's default parallelism)")
    parser.add_argument("--seed", help="seed for noise (tests only: seeded noise is not private)")
    parser.add_argument("--master", help="Spark master when not run by spark-submit (for example local[2])")
    parser.add_argument("--catalog-path", help="the release catalog (default: deid publish's)")
    parser.add_argument("--no-catalog", action="store_true", help="do not record the release in a catalog")
    parser.add_argument("--keep-work", help="keep the statistics, plan and parts in this new directory")
    parser.add_argument(
        "--layout", choices=("auto", "files", "entity"), default="auto",
        help="partitions of whole files, or of whole entities (deid split); auto: whole files, unless the "
        "policy aggregates per entity and an entity's records are in several files")
    parser.add_argument("inputs", nargs="+", help="CSV files (plain or gzip) or directories of them")
    return parser.parse_args(argv)


def input_files(paths):
    """The input files, directories expanded to their .csv and .csv.gz files, by name."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(".csv") or name.endswith(".csv.gz"):
                    files.append(os.path.join(path, name))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise SystemExit(f"deid_spark: {path}: no such file or directory")
    if not files:
        raise SystemExit("deid_spark: no input files")
    return [os.path.abspath(f) for f in files]


def assign(files, partitions):
    """Whole files to partitions, largest first to the least loaded (file order kept inside)."""
    loads = [[0, index, []] for index in range(min(partitions, len(files)))]
    for position, path in sorted(enumerate(files), key=lambda item: -os.path.getsize(item[1])):
        lightest = min(loads, key=lambda load: (load[0], load[1]))
        lightest[0] += os.path.getsize(path)
        lightest[2].append(position)
    return [(index, [(position, files[position]) for position in sorted(members)]) for _, index, members in loads]


def run(command):
    """Runs deid; returns its standard output, or raises with its exit code and messages."""
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise DeidFailure(result.returncode, result.stderr.decode("utf-8", "replace").strip(), command[1])
    return result.stdout


class DeidFailure(Exception):
    def __init__(self, code, message, step):
        super().__init__(f"deid {step} exited {code}: {message}")
        self.code = code
        self.message = message


def resolve(path, fallback):
    """A file shipped with --files (SparkFiles), else `fallback` as given."""
    from pyspark import SparkFiles

    try:
        shipped = SparkFiles.get(os.path.basename(fallback))
        if os.path.exists(shipped):
            return shipped
    except Exception:
        pass
    return path or fallback


def shard_statistics(shard, deid, policy):
    """Step 1 on an executor: one partition's statistics, as bytes."""
    index, members = shard
    binary = resolve(deid, "deid")
    policy_path = resolve(None, policy)
    with tempfile.TemporaryDirectory(prefix="deid-stats-") as scratch:
        out = os.path.join(scratch, "stats.json")
        env_tmp = dict(os.environ, TMPDIR=scratch)
        result = subprocess.run(
            [binary, "stats", "--policy", policy_path, "--out", out] + [path for _, path in members],
            capture_output=True, env=env_tmp)
        if result.returncode != 0:
            raise DeidFailure(result.returncode, result.stderr.decode("utf-8", "replace").strip(), "stats")
        with open(out, "rb") as handle:
            return index, handle.read()


def shard_apply(shard, deid, policy, plan_bytes, data_dir, together):
    """Step 3 on an executor: the plan applied to each of the partition's files, or to all of
    them as one input (`together`: the parts of one entity split, which share entities)."""
    index, members = shard
    binary = resolve(deid, "deid")
    policy_path = resolve(None, policy)
    written = []
    with tempfile.TemporaryDirectory(prefix="deid-apply-") as scratch:
        plan_path = os.path.join(scratch, "plan.json")
        with open(plan_path, "wb") as handle:
            handle.write(plan_bytes)
        runs = [(index, [path for _, path in members])] if together else [(position, [path]) for position, path in members]
        for number, paths in runs:
            part = os.path.join(data_dir, f"part-{number:05d}.csv")
            charts = os.path.join(data_dir, f"part-{number:05d}.charts.json")
            run([binary, "apply", "--policy", policy_path, "--plan", plan_path, "--charts", charts] + paths + [part])
            written.append({"inputs": paths, "part": os.path.basename(part), "charts": os.path.basename(charts)})
    return written


def split_input(job, deid, policy, split_dir, parts):
    """The moving by entity, on an executor: one input's records dealt into `parts` parts
    (`deid split`); returns the receipt's path and the parts that received records."""
    position, path = job
    binary = resolve(deid, "deid")
    out = os.path.join(split_dir, f"{position:05d}")
    run([binary, "split", "--policy", resolve(None, policy), "--parts", str(parts), "--out", out, path])
    receipt = os.path.join(out, "split.json")
    with open(receipt) as handle:
        indices = {part["index"] for part in json.load(handle)["parts"]}
    return position, receipt, indices


def overlapping_entities(statistics):
    """True when the statistics list entities (the policy aggregates per entity) and one of
    them is in two partitions."""
    seen = set()
    for _, content in statistics:
        entities = json.loads(content).get("entities")
        if entities is None:
            return False
        if not seen.isdisjoint(entities):
            return True
        seen.update(entities)
    return False


def task_failure(text):
    """A failed task's deid messages, from the Java and Python traces Spark wraps them in (the
    whole text when none is found)."""
    found = []
    for line in text.splitlines():
        marker = line.find("DeidFailure: ")
        if marker >= 0:
            found.append(line[marker + len("DeidFailure: "):])
        elif found and line.startswith("deid: "):
            found.append(line)
    return "\n".join(dict.fromkeys(found)) if found else text


def main(argv):
    args = parse_args(argv)
    # Stopped (SIGTERM from a scheduler, Ctrl-C): the work files and a half-made release are
    # removed on the way out (`finally` below); deid removes its own temporary files.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    from pyspark.sql import SparkSession

    out = os.path.abspath(args.out)
    for path in (args.out, args.keep_work):
        if path and os.path.exists(path):
            raise SystemExit(f"deid_spark: {path}: already exists; give a new directory")
    files = input_files(args.inputs)
    builder = SparkSession.builder.appName("deid")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    context = spark.sparkContext
    deid = args.deid and os.path.abspath(args.deid)
    driver_deid = deid or resolve(None, "deid")
    policy = os.path.abspath(args.policy)
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}-work-", dir=os.path.dirname(out))
    try:
        started = time.time()
        partitions = args.partitions or context.defaultParallelism
        layout = "files"
        receipts = []
        split_seconds = None
        if args.layout != "entity":
            shards = assign(files, partitions)
            rdd = context.parallelize(shards, len(shards))
            statistics = rdd.map(lambda shard: shard_statistics(shard, deid, policy)).collect()
        if args.layout == "entity" or (args.layout == "auto" and overlapping_entities(statistics)):
            # Each entity's records into one partition: part N of every input's split.
            layout = "entity"
            split_started = time.time()
            split_dir = os.path.join(work, "split")
            os.makedirs(split_dir)
            jobs = list(enumerate(files))
            splits = context.parallelize(jobs, min(len(jobs), partitions)).map(
                lambda job: split_input(job, deid, policy, split_dir, partitions)).collect()
            splits.sort()
            split_seconds = time.time() - split_started
            receipts = [receipt for _, receipt, _ in splits]
            shards = []
            for index in range(partitions):
                members = [(position, os.path.join(split_dir, f"{position:05d}", f"part-{index:05d}.csv"))
                           for position, _, indices in splits if index in indices]
                if members:
                    shards.append((index, members))
            rdd = context.parallelize(shards, len(shards))
            statistics = rdd.map(lambda shard: shard_statistics(shard, deid, policy)).collect()
        os.makedirs(os.path.join(work, "stats"))
        stats_paths = []
        for index, content in sorted(statistics):
            path = os.path.join(work, "stats", f"shard-{index:05d}.json")
            with open(path, "wb") as handle:
                handle.write(content)
            stats_paths.append(path)
        counted = time.time()

        merged = os.path.join(work, "merged.stats.json")
        run([driver_deid, "stats", "--merge", "--out", merged] + receipts + stats_paths)
        plan_path = os.path.join(work, "plan.json")
        command = [driver_deid, "plan", "--policy", policy, "--out", plan_path]
        if args.seed is not None:
            command += ["--seed", args.seed]
        try:
            run(command + [merged])
        except DeidFailure as failure:
            if failure.code == 1:  # the models cannot be met: refused, nothing written
                print(failure.message, file=sys.stderr)
                return 1
            raise
        with open(plan_path, "rb") as handle:
            plan_bytes = handle.read()
        planned = time.time()

        data_dir = os.path.join(work, "data")
        os.makedirs(data_dir)
        broadcast = context.broadcast(plan_bytes)
        together = layout == "entity"
        parts = rdd.flatMap(
            lambda shard: shard_apply(shard, deid, policy, broadcast.value, data_dir, together)).collect()
        parts.sort(key=lambda part: part["part"])
        applied = time.time()

        command = [driver_deid, "publish", "--policy", policy, "--plan", plan_path, "--statistics", merged,
                   "--out", out]
        if args.no_catalog:
            command.append("--no-catalog")
        elif args.catalog_path:
            command += ["--catalog-path", args.catalog_path]
        for part in parts:  # the input charts of the report, in the parts' order
            command += ["--charts", os.path.join(data_dir, part["charts"])]
        try:
            published = run(command + [os.path.join(data_dir, part["part"]) for part in parts])
        except DeidFailure as failure:
            if failure.code == 1:  # a gate refused the assembled release
                print(failure.message, file=sys.stderr)
                return 1
            raise
        assembled = time.time()
        sys.stdout.write(published.decode("utf-8", "replace"))
        seconds = {
            "stats": round(counted - started - (split_seconds or 0), 3),
            "plan": round(planned - counted, 3),
            "apply": round(applied - planned, 3),
            "assemble": round(assembled - applied, 3),
        }
        if split_seconds is not None:
            seconds["split"] = round(split_seconds, 3)
        with open(os.path.join(work, "shards.json"), "w") as handle:
            json.dump({"parts": parts, "partitions": len(shards), "layout": layout, "seconds": seconds}, handle,
                      indent=2,
                      sort_keys=True)
            handle.write("\n")
        if args.keep_work:
            shutil.move(work, os.path.abspath(args.keep_work))  # (may be on another file system)
            work = None
        print(
            f"deid_spark: {len(files)} inputs on {len(shards)} partitions of whole {'entities' if layout == 'entity' else 'files'} -> {args.out} "
            + ", ".join(f"{step} {value} s" for step, value in seconds.items()),
            file=sys.stderr)
        return 0
    except DeidFailure as failure:
        print(f"deid_spark: {failure}", file=sys.stderr)
        return 2
    except Exception as error:  # a Spark task's failure arrives wrapped: its deid message inside
        print(f"deid_spark: {task_failure(str(error))}", file=sys.stderr)
        return 2
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
