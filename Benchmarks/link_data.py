#!/usr/bin/env python3
"""Two generated people files for the linkage benchmark (seeded, numpy).

Usage: link_data.py ROWS SEED OUT.csv
Columns: person_id (unique), sex, birth_year, zip (30,000 codes, Zipf-skewed), occupation (25),
income (noise). The four shared quasi-identifiers are sex, birth_year, zip and occupation; two
files drawn with different seeds are different people from one population, so their unique
links are coincidences of rare combinations, as in a real linkage attack on samples.
"""
import sys

import numpy as np


def main():
    rows, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(seed)
    population = np.random.default_rng(7)  # the same zip weights for every file
    weights = 1.0 / np.arange(1, 30001) ** 0.9
    population.shuffle(weights)
    weights /= weights.sum()
    chunk = 1_000_000
    with open(out, "w") as f:
        f.write("person_id,sex,birth_year,zip,occupation,income\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            sex = rng.choice(np.array(["F", "M"]), n)
            year = np.clip(rng.normal(1975, 18, n).astype(int), 1920, 2008)
            zips = rng.choice(30000, n, p=weights) + 10000
            occupation = rng.integers(1, 26, n)
            income = rng.gamma(2.0, 20000.0, n).astype(int)
            ids = np.arange(start, start + n) + seed * 100_000_000
            lines = [f"p{i},{s},{y},{z},occ{o},{m}\n" for i, s, y, z, o, m in zip(ids, sex, year, zips, occupation, income)]
            f.writelines(lines)


if __name__ == "__main__":
    main()
