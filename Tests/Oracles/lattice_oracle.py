#!/usr/bin/env python3
"""Brute-force oracle for the k-anonymity search (independent of deid's Swift code).

Checks every node of the full-domain generalization lattice of a `;`-separated table with
ARX-format hierarchies (`value;level1;...`), rows as individuals, and prints the optimum by
non-uniform entropy (ARX's definition: per column, the sum over original values v of
count(v) * log2(count(g(v)) / count(v)); suppression does not change it) among the nodes
whose classes smaller than k hold at most limit * rows rows.

    python3 lattice_oracle.py DATA.csv HIERARCHY_PREFIX K LIMIT [K LIMIT ...]
    QUASI_IDENTIFIERS=a,b,c python3 lattice_oracle.py ...   # a subset of the columns

The optima pinned in Tests/DeidKitTests/PrivacyDatasetTests.swift came from this script.
"""
import csv, itertools, json, math, os, sys
from collections import Counter
import numpy as np

data, prefix = sys.argv[1], sys.argv[2]
cases = [(int(sys.argv[i]), float(sys.argv[i + 1])) for i in range(3, len(sys.argv), 2)]
rows = list(csv.reader(open(data), delimiter=';'))
header, rows = rows[0], rows[1:]
if os.environ.get('QUASI_IDENTIFIERS'):
    keep = [header.index(c) for c in os.environ['QUASI_IDENTIFIERS'].split(',')]
    header = [header[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
n = len(rows)
hierarchies = []
for column in header:
    table = {}
    for line in csv.reader(open(f'{prefix}{column}.csv'), delimiter=';'):
        if line:
            table[line[0]] = line
    hierarchies.append(table)
levels = [len(next(iter(h.values()))) for h in hierarchies]
columns = list(zip(*rows))
counts = [Counter(c) for c in columns]
values = [sorted(c) for c in counts]
# per column, per level: original code -> generalized code
maps, entropy = [], []
for j, h in enumerate(hierarchies):
    per_level, per_entropy = [], []
    for level in range(levels[j]):
        labels = {}
        codes = np.array([labels.setdefault(h[v][level], len(labels)) for v in values[j]], dtype=np.int64)
        per_level.append((codes, len(labels)))
        group = Counter()
        for v in values[j]:
            group[h[v][level]] += counts[j][v]
        per_entropy.append(sum(c * math.log2(group[h[v][level]] / c) for v, c in counts[j].items()))
    maps.append(per_level)
    entropy.append(per_entropy)
index = [{v: i for i, v in enumerate(vs)} for vs in values]
tuples = Counter(tuple(index[j][r[j]] for j in range(len(header))) for r in rows)
codes = np.array(list(tuples.keys()), dtype=np.int64)
weights = np.array(list(tuples.values()), dtype=np.int64)
nodes = list(itertools.product(*[range(l) for l in levels]))
results = []
for k, limit in cases:
    best = None
    for node in sorted(nodes, key=lambda nd: sum(entropy[j][nd[j]] for j in range(len(nd)))):
        loss = sum(entropy[j][node[j]] for j in range(len(node)))
        if best is not None and loss > best[0] + 1e-6:
            break
        key = np.zeros(len(codes), dtype=np.int64)
        for j, level in enumerate(node):
            table, size = maps[j][level]
            key = key * size + table[codes[:, j]]
        _, inverse = np.unique(key, return_inverse=True)
        sizes = np.bincount(inverse, weights=weights)
        suppressed = int(sizes[sizes < k].sum())
        if suppressed <= limit * n + 1e-9:
            if best is None or loss < best[0] - 1e-6:
                best = (loss, list(node), suppressed)
    results.append({'k': k, 'limit': limit, 'levels': best[1], 'loss': best[0], 'suppressed': best[2]})
print(json.dumps({'columns': header, 'results': results}, indent=1))
