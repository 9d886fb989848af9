# The two set-up commands (README): `make demo` and `make test`. Both install the system
# libraries they need (libcsv-dev, zlib1g-dev) with apt-get when missing (as root).
SWIFT ?= swift
SYSTEM_PACKAGES = libcsv-dev zlib1g-dev gzip
# The tests also run Python oracles (the linkage one with pandas, installed with pip when
# missing), render the risk report in a headless browser, and run the Spark integration on
# pyspark (from pip; it needs Java).
TEST_PACKAGES = python3 python3-pip chromium openjdk-17-jre-headless

.PHONY: all deps test-deps install-missing build demo test fuzz bench bench-memory clean

all: build

deps:
	@$(MAKE) --no-print-directory install-missing PACKAGES="$(SYSTEM_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory install-missing PACKAGES="$(SYSTEM_PACKAGES) $(TEST_PACKAGES)"
	@# The linkage oracle (Tests/Oracles/link_oracle.py) is an independent pandas computation.
	@python3 -c "import pandas" 2>/dev/null || python3 -m pip install --quiet pandas
	@# The Spark integration's test (Integrations/spark) runs on pyspark in local mode.
	@python3 -c "import pyspark" 2>/dev/null || python3 -m pip install --quiet pyspark

install-missing:
	@missing=""; \
	for package in $(PACKAGES); do \
	  dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "make: missing system packages:$$missing (run as root, or: sudo apt-get install$$missing)" >&2; exit 1; \
	  fi; \
	  echo "make: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product deid
	$(SWIFT) build -c release --product deid-sample

# The main job on the bundled sample: publish it with the bundled policy into a release
# directory (data, manifest.json, report.md). The key is a fixed, public demo key unless
# DEID_KEY is set: never publish real data under it.
DEMO_KEY = demo-only-key-published-in-the-makefile-do-not-use
demo: build
	@mkdir -p .build/demo
	@rm -rf .build/demo/release .build/demo/areas .build/demo/catalog.sqlite .build/demo/catalog.sqlite-wal .build/demo/catalog.sqlite-shm
	@echo "--- a record-level release: one row per household and month (Datasets/smart_meter_policy.yaml)"
	DEID_KEY="$${DEID_KEY:-$(DEMO_KEY)}" .build/release/deid publish --policy Datasets/smart_meter_policy.yaml \
	  --seed 1 --out .build/demo/release --catalog-path .build/demo/catalog.sqlite Datasets/smart_meter_sample.csv
	@head -4 .build/demo/release/smart-meter-readings.csv
	@echo "--- an aggregate release: daily totals per postcode area (Datasets/smart_meter_aggregate.yaml)"
	.build/release/deid publish --policy Datasets/smart_meter_aggregate.yaml \
	  --out .build/demo/areas --catalog-path .build/demo/catalog.sqlite Datasets/smart_meter_sample.csv
	@head -6 .build/demo/areas/smart-meter-areas.csv
	@echo "--- .build/demo/areas/report.md (its aggregate section)"
	@sed -n '/^## Aggregate release/,$$p' .build/demo/areas/report.md
	@echo "--- each release joined with the register it came from (deid link; Docs/LINKAGE.md)"
	@.build/release/deid link .build/demo/release/smart-meter-readings.csv Datasets/smart_meter_sample.csv \
	  --entity meter_id --columns dwelling_type,occupants --max-unique-link-share 0.05 | grep -E '^  (unique links|gate)'
	@.build/release/deid link .build/demo/areas/smart-meter-areas.csv Datasets/smart_meter_sample.csv \
	  --columns postcode --max-unique-link-share 0.05 | grep -E '^  (unique links|gate)'
	@echo "--- the catalog"
	@.build/release/deid catalog list --catalog-path .build/demo/catalog.sqlite

# The layer check (Docs/ARCHITECTURE.md), the formatting check (swift format with
# .swift-format), the whole suite, the Spark integration against one machine (pyspark in
# local[2] mode), then a short fuzzing smoke run of every target (Fuzz/run.sh: libFuzzer and
# AddressSanitizer; its first build takes a few minutes).
test: test-deps
	Scripts/check-layers.sh
	Scripts/check-format.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test
	python3 Integrations/spark/test_deid_spark.py --deid .build/debug/deid
	Fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS ?= 60

# Each fuzz target for FUZZ_SECONDS (Docs/SECURITY.md); findings land in .build-fuzz/findings/.
fuzz: deps
	Fuzz/run.sh $(FUZZ_SECONDS)

# Speed and memory on a generated ~1 GB file (see Benchmarks/README.md); not part of `test`.
bench: deps
	@command -v /usr/bin/time >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq time; }
	Benchmarks/run.sh

# Peak memory of profile, risk, link and publish on very wide files and a 50 MB field, against
# a 300 MB ceiling (Benchmarks/memory.sh); not part of `test`.
bench-memory: deps
	@command -v /usr/bin/time >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq time; }
	Benchmarks/memory.sh

clean:
	rm -rf .build .build-fuzz
