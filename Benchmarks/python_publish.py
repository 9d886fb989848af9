"""The same job as Benchmarks/duckdb_publish.py in plain Python with the csv module (one core):
drop name and e-mail, md5 of the meter id, postcode prefix, time truncated to the hour, Laplace
noise on kWh clamped at 0 and rounded to 3 decimals. Usage: python3 python_publish.py IN OUT"""
import csv
import hashlib
import math
import random
import sys

source, target = sys.argv[1], sys.argv[2]
with open(source, newline="") as infile, open(target, "w", newline="") as outfile:
    reader = csv.reader(infile)
    writer = csv.writer(outfile, lineterminator="\n")
    header = next(reader)
    writer.writerow(["meter_id", "postcode", "dwelling_type", "occupants", "tariff", "reading_time", "kwh"])
    for meter, _name, _email, postcode, dwelling, occupants, tariff, time, kwh in reader:
        if kwh:
            u = random.random() - 0.5
            kwh = f"{max(0.0, float(kwh) - 0.05 * math.copysign(1, u) * math.log(1 - 2 * abs(u))):.3f}"
        writer.writerow([hashlib.md5(meter.encode()).hexdigest()[:16], postcode[:4], dwelling, occupants, tariff,
                         time[:13] + ":00:00", kwh])
