#!/usr/bin/env python3
"""deid on Apache Spark: the same privacy release as `deid publish` on one machine, made by
the executors (Docs/SCALE-OUT.md).

    spark-submit --files deid,policy.yaml Integrations/spark/deid_spark.py \\
        --policy policy.yaml --out release-dir /shared/meters/*.csv.gz

Three steps, each the `deid` binary on the executors (shipped with --files, or --deid PATH):
  1. per partition: `deid stats` over the partition's whole input files (a file is never
     split, so a quoted line break stays inside its record);
  2. on the driver: `deid plan` on every partition's statistics (the merge does not depend on
     how files were grouped: an individual may have records in several partitions);
  3. per partition: `deid apply --plan` on each of its files, writing one part file per input.

The output directory holds data/part-NNNNN.csv (each with the header), plan.json (confidential:
it names suppressed entities), stats/ and shards.json (what was written, the manifest's
privacy object, the inputs). It is written beside its destination and renamed into place only
when every step succeeded; on a refusal (the models cannot be met) nothing is left and the
exit code is 1, as with `deid publish`.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="deid_spark.py",
        description="Publish a privacy release with deid on Spark (Docs/SCALE-OUT.md).",
        epilog="Example: spark-submit --files deid,policy.yaml deid_spark.py --policy policy.yaml "
        "--out release /data/meters/",
    )
    parser.add_argument("--policy", required=True, help="the policy file, readable on every executor")
    parser.add_argument("--out", required=True, help="the output directory (must not exist)")
    parser.add_argument("--deid", help="the deid binary on the executors (default: shipped with --files, else on PATH)")
    parser.add_argument("--partitions", type=int, help="partitions (default: Spark's default parallelism)")
    parser.add_argument("--seed", help="seed for noise (tests only: seeded noise is not private)")
    parser.add_argument("--master", help="Spark master when not run by spark-submit (for example local[2])")
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


def shard_apply(shard, deid, policy, plan_bytes, data_dir):
    """Step 3 on an executor: the plan applied to each of the partition's files."""
    _, members = shard
    binary = resolve(deid, "deid")
    policy_path = resolve(None, policy)
    written = []
    with tempfile.TemporaryDirectory(prefix="deid-apply-") as scratch:
        plan_path = os.path.join(scratch, "plan.json")
        with open(plan_path, "wb") as handle:
            handle.write(plan_bytes)
        for position, path in members:
            part = os.path.join(data_dir, f"part-{position:05d}.csv")
            run([binary, "apply", "--policy", policy_path, "--plan", plan_path, path, part])
            with open(part, "rb") as handle:
                records = count_records(handle)
            written.append({"input": path, "part": os.path.basename(part), "records": records})
    return written


def count_records(handle):
    """Records of a part file deid wrote (RFC 4180: a line break inside quotes is data)."""
    records, quoted, last = 0, False, b"\n"
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        for piece in chunk.split(b'"')[:-1]:
            records += 0 if quoted else piece.count(b"\n")
            quoted = not quoted
        tail = chunk.split(b'"')[-1]
        records += 0 if quoted else tail.count(b"\n")
        last = chunk[-1:]
    return records - 1 + (0 if last == b"\n" else 1)  # less the header


def main(argv):
    args = parse_args(argv)
    from pyspark.sql import SparkSession

    out = os.path.abspath(args.out)
    if os.path.exists(out):
        raise SystemExit(f"deid_spark: {args.out}: already exists; give a new output directory")
    files = input_files(args.inputs)
    builder = SparkSession.builder.appName("deid")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    context = spark.sparkContext
    deid = args.deid and os.path.abspath(args.deid)
    policy = os.path.abspath(args.policy)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}-", dir=os.path.dirname(out))
    try:
        started = time.time()
        partitions = args.partitions or context.defaultParallelism
        shards = assign(files, partitions)
        rdd = context.parallelize(shards, len(shards))

        statistics = rdd.map(lambda shard: shard_statistics(shard, deid, policy)).collect()
        os.makedirs(os.path.join(staging, "stats"))
        stats_paths = []
        for index, content in sorted(statistics):
            path = os.path.join(staging, "stats", f"shard-{index:05d}.json")
            with open(path, "wb") as handle:
                handle.write(content)
            stats_paths.append(path)
        counted = time.time()

        plan_path = os.path.join(staging, "plan.json")
        command = [deid or resolve(None, "deid"), "plan", "--policy", policy, "--out", plan_path]
        if args.seed is not None:
            command += ["--seed", args.seed]
        try:
            run(command + stats_paths)
        except DeidFailure as failure:
            if failure.code == 1:  # the models cannot be met: refused, nothing written
                print(failure.message, file=sys.stderr)
                return 1
            raise
        with open(plan_path, "rb") as handle:
            plan_bytes = handle.read()
        planned = time.time()

        data_dir = os.path.join(staging, "data")
        os.makedirs(data_dir)
        broadcast = context.broadcast(plan_bytes)
        parts = rdd.flatMap(lambda shard: shard_apply(shard, deid, policy, broadcast.value, data_dir)).collect()
        applied = time.time()

        plan = json.loads(plan_bytes)
        summary = {
            "format": "deid-spark-release",
            "version": 1,
            "release_id": plan["release_id"],
            "records_out": sum(part["records"] for part in parts),
            "parts": sorted(parts, key=lambda part: part["part"]),
            "privacy": plan["privacy"],
            "inputs": plan["summary"]["inputs"],
            "partitions": len(shards),
            "seconds": {
                "stats": round(counted - started, 3),
                "plan": round(planned - counted, 3),
                "apply": round(applied - planned, 3),
            },
        }
        with open(os.path.join(staging, "shards.json"), "w") as handle:
            json.dump(summary, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.rename(staging, out)
        staging = None
        print(
            f"deid_spark: {summary['records_out']} records in {len(parts)} parts from {len(files)} inputs "
            f"on {len(shards)} partitions -> {args.out} (stats {summary['seconds']['stats']} s, "
            f"plan {summary['seconds']['plan']} s, apply {summary['seconds']['apply']} s)",
            file=sys.stderr)
        return 0
    except DeidFailure as failure:
        print(f"deid_spark: {failure}", file=sys.stderr)
        return 2
    except Exception as error:  # a Spark task's failure arrives wrapped: its deid message inside
        print(f"deid_spark: {error}", file=sys.stderr)
        return 2
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
