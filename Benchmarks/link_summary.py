#!/usr/bin/env python3
"""Prints the pairs of a `deid link --json` report read from stdin, one line each."""
import json
import sys

for pair in json.load(sys.stdin)["pairs"]:
    print(f"  {pair['left']}: unique links {pair['unique_links']} of {pair['left_records']} "
          f"(share {pair['unique_link_share']:.5f}), joinability {pair['joinability']:.4f}")
