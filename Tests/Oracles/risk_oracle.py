#!/usr/bin/env python3
"""Independent oracle for `deid risk` (Python standard library only; shares no code with deid).

Reads a CSV file with the csv module and computes, from the rows directly:
  classes, individuals, prosecutor/marketer risk, sample uniques, l and t per class,
  the unique individuals of given column combinations, the expected trace uniqueness for one
  point, ARX's distinction and separation, and the Zayatz, Pitman and SNB population uniqueness
  estimates (Pitman by Newton's method on the score equations written as explicit sums).

Usage: risk_oracle.py SPEC.json   (SPEC: file, delimiter, quasi_identifiers, entity, sensitive,
       threshold, combinations, trace {entity, time, value, day, step}, sampling_fraction)
Prints a JSON object.
"""
import csv, gzip, json, math, sys
from collections import defaultdict


def rows_of(path, delimiter):
    opener = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with opener(path, 'rt', newline='', encoding='utf-8') as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader)
        for row in reader:
            yield dict(zip(header, row))


def classes_of(rows, columns, entity):
    """class key -> set of individuals (entity values, or row numbers), records per class."""
    members, records = defaultdict(set), defaultdict(int)
    for number, row in enumerate(rows):
        key = tuple(row[c] for c in columns)
        members[key].add(row[entity] if entity else number)
        records[key] += 1
    return members, records


def measures(spec, rows):
    qis, entity, sensitive = spec['quasi_identifiers'], spec.get('entity'), spec.get('sensitive')
    members, records = classes_of(rows, qis, entity)
    smallest = {}
    for key, people in members.items():
        for person in people:
            smallest[person] = min(smallest.get(person, 10**18), len(people))
    n = len(smallest)
    risks = [1.0 / s for s in smallest.values()]
    threshold = spec.get('threshold', 0.2)
    out = {
        'records': len(rows), 'individuals': n, 'equivalence_classes': len(members),
        'min_class_size': min(len(p) for p in members.values()),
        'sample_uniques': sum(1 for s in smallest.values() if s == 1),
        'prosecutor_max': max(risks), 'prosecutor_average': sum(risks) / n,
        'prosecutor_at_risk_share': sum(1 for r in risks if r > threshold) / n,
        # marketer risk: the mean of each individual's risk (= classes / individuals only when
        # every individual is in one class)
        'marketer': sum(risks) / n,
    }
    sizes = defaultdict(int)
    for people in members.values():
        sizes[len(people)] += 1
    out['class_sizes'] = {str(k): v for k, v in sizes.items()}
    if sensitive:
        values = defaultdict(lambda: defaultdict(set))
        for number, row in enumerate(rows):
            values[tuple(row[c] for c in qis)][row[sensitive]].add(row[entity] if entity else number)
        overall = defaultdict(int)
        for per_class in values.values():
            for value, people in per_class.items():
                overall[value] += len(people)
        total = sum(overall.values())
        lowest_l, lowest_entropy, highest_t = 10**9, 1e300, 0.0
        for per_class in values.values():
            counts = {v: len(p) for v, p in per_class.items()}
            size = sum(counts.values())
            lowest_l = min(lowest_l, len(counts))
            entropy = -sum(c / size * math.log(c / size) for c in counts.values())
            lowest_entropy = min(lowest_entropy, math.exp(entropy))
            distance = 0.5 * sum(abs(counts.get(v, 0) / size - overall[v] / total) for v in overall)
            highest_t = max(highest_t, distance)
        out.update(lowest_distinct_l=lowest_l, lowest_entropy_l=lowest_entropy, highest_t_equal=highest_t)
    combos, measures_of = {}, {}
    for combination in spec.get('combinations', []):
        people_of, records_of = classes_of(rows, combination, entity)
        best = {}
        for people in people_of.values():
            for person in people:
                best[person] = min(best.get(person, 10**18), len(people))
        combos['+'.join(combination)] = sum(1 for s in best.values() if s == 1)
        # ARX's distinction (classes / records) and separation (share of pairs told apart),
        # pairs counted over memberships of individuals in classes.
        memberships = sum(len(p) for p in people_of.values())
        same = sum(len(p) * (len(p) - 1) for p in people_of.values())
        measures_of['+'.join(combination)] = {
            'distinction': len(people_of) / sum(records_of.values()),
            'separation': 1 - same / (memberships * (memberships - 1)),
        }
    out['combinations'] = combos
    out['combination_measures'] = measures_of
    if 'trace' in spec:
        t = spec['trace']
        sums = defaultdict(float)
        for row in rows:
            bucket = row[t['time']][:10] if t.get('day') else row[t['time']]
            sums[(row[t['entity']], bucket)] += float(row[t['value']])
        points = defaultdict(set)
        holders = defaultdict(set)
        for (who, bucket), total in sums.items():
            point = (bucket, math.floor(total / t['step'] + 0.5))
            points[who].add(point)
            holders[point].add(who)
        # With one point drawn at random, an entity is singled out with probability the share
        # of its points no other entity has.
        shares = [sum(1 for p in ps if len(holders[p]) == 1) / len(ps) for ps in points.values()]
        out['trace_one_point_expected'] = sum(shares) / len(shares)
        # With all its points: singled out unless another trace contains all of them.
        alone = 0
        for who, ps in points.items():
            others = set.intersection(*(holders[p] for p in ps))
            alone += others == {who}
        out['trace_all_points'] = alone / len(points)
    if 'sampling_fraction' in spec:
        out.update(population(sizes, spec['sampling_fraction']))
    return out


def population(sizes, fraction):
    n = sum(k * v for k, v in sizes.items())
    u = sum(sizes.values())
    f1, f2 = sizes.get(1, 0), sizes.get(2, 0)
    N = round(n / fraction)

    def log_choose(a, b):
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    def once(k):
        return math.exp(math.log(k) + log_choose(N - k, n - 1) - log_choose(N, n))

    denominator = sum(v / u * once(k) for k, v in sizes.items())
    zayatz = f1 * (f1 / u * once(1) / denominator) / fraction

    def scores(theta, alpha):
        s1 = sum(1 / (theta + i * alpha) for i in range(1, u))
        s3 = sum(i / (theta + i * alpha) for i in range(1, u))
        s2 = sum(1 / (theta + i) for i in range(1, n))
        s4 = sum(v * sum(1 / (j - alpha) for j in range(1, k)) for k, v in sizes.items() if k > 1)
        d11 = -sum(1 / (theta + i * alpha) ** 2 for i in range(1, u)) + sum(1 / (theta + i) ** 2 for i in range(1, n))
        d12 = -sum(i / (theta + i * alpha) ** 2 for i in range(1, u))
        d22 = -sum(i * i / (theta + i * alpha) ** 2 for i in range(1, u)) - sum(v * sum(1 / (j - alpha) ** 2 for j in range(1, k)) for k, v in sizes.items() if k > 1)
        return (s1 - s2, s3 - s4), ((d11, d12), (d12, d22))

    theta, alpha = 1.0, 0.5
    pitman = None
    for _ in range(200):
        (a, b), ((p, q), (r, s)) = scores(theta, alpha)
        det = p * s - q * r
        dt, da = (s * a - q * b) / det, (p * b - r * a) / det
        step = 1.0
        while not (0 < alpha - step * da < 1 and theta - step * dt > -(alpha - step * da)):
            step /= 2
        theta, alpha = theta - step * dt, alpha - step * da
        if abs(dt) < 1e-12 and abs(da) < 1e-12:
            pitman = math.exp(math.lgamma(theta + 1) - math.lgamma(theta + alpha) + alpha * math.log(N))
            break
    # SNB: Shlosser's K (Haas et al. 1995), then the two moment equations of the slide negative
    # binomial under Bernoulli sampling, solved by Newton's method with a numerical Jacobian.
    f = fraction
    a1 = sum(i * f * f * (1 - f * f) ** (i - 1) * v for i, v in sizes.items())
    a2 = sum((1 - f) ** i * ((1 + f) ** i - 1) * v for i, v in sizes.items())
    b1 = sum((1 - f) ** i * v for i, v in sizes.items())
    b2 = sum(i * f * (1 - f) ** (i - 1) * v for i, v in sizes.items())
    K = u + f1 * (a1 / a2) * (b1 / b2) ** 2

    def equations(alpha, beta):
        d = (1 - f) * (1 - beta)
        q = (beta / (1 - d)) ** alpha
        one = K * f * q * (1 + alpha * d / (1 - d))
        two = K * alpha * q * (1 - beta) * f * f / (2 * (1 - d) ** 2) * (2 - (1 - alpha) * d)
        return (one - f1) / f1, (two - f2) / f2

    snb = None
    for alpha, beta in [(1.0, 0.5), (0.5, 0.1), (2.0, 0.9), (0.1, 0.01)]:
        for _ in range(300):
            g1, g2 = equations(alpha, beta)
            if abs(g1) < 1e-12 and abs(g2) < 1e-12:
                break
            h1, h2 = 1e-7 * max(1, abs(alpha)), 1e-9 * max(1, abs(beta) * 100)
            p1, p2 = equations(alpha + h1, beta)
            q1, q2 = equations(alpha, beta + h2)
            j11, j12, j21, j22 = (p1 - g1) / h1, (q1 - g1) / h2, (p2 - g2) / h1, (q2 - g2) / h2
            det = j11 * j22 - j12 * j21
            if det == 0:
                break
            da, db = (j22 * g1 - j12 * g2) / det, (j11 * g2 - j21 * g1) / det
            step = 1.0
            while not (alpha - step * da > 0 and 0 < beta - step * db < 1) and step > 1e-18:
                step /= 2
            alpha, beta = alpha - step * da, beta - step * db
        g1, g2 = equations(alpha, beta)
        if abs(g1) < 1e-6 and abs(g2) < 1e-6:
            snb = K * beta ** alpha
            break
    return {'zayatz': zayatz, 'pitman': pitman, 'snb': snb, 'population_size': N}


if __name__ == '__main__':
    spec = json.load(open(sys.argv[1]))
    rows = list(rows_of(spec['file'], spec.get('delimiter', ',')))
    print(json.dumps(measures(spec, rows)))
