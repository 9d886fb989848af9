# The two set-up commands (README): `make demo` and `make test`. Both install the system
# libraries they need (libcsv-dev, zlib1g-dev) with apt-get when missing (as root).
SWIFT ?= swift
SYSTEM_PACKAGES = libcsv-dev zlib1g-dev gzip

.PHONY: all deps build demo test bench clean

all: build

deps:
	@missing=""; \
	for package in $(SYSTEM_PACKAGES); do \
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

# The main job on the bundled sample: profile it and write a starter policy.
demo: build
	@mkdir -p .build/demo
	.build/release/deid profile Datasets/smart_meter_sample.csv --policy-out .build/demo/policy.yaml
	@echo "--- .build/demo/policy.yaml"
	@cat .build/demo/policy.yaml

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Speed and memory on a generated ~1 GB file (see Benchmarks/README.md); not part of `test`.
bench: deps
	@command -v /usr/bin/time >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq time; }
	Benchmarks/run.sh

clean:
	rm -rf .build
