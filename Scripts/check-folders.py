#!/usr/bin/env python3
"""DeidKit's folders are layers (Docs/ARCHITECTURE.md): a folder uses only the types and
functions declared in folders before it in LAYERS. Fails, naming the file, line and name, on a
use against the order, and on a folder that is not in the list. Run by Scripts/check-layers.sh.

Names are the top-level declarations of each folder (types, typealiases, functions); a use is
the name as a word in code (comments and string literals set aside). An extension of a type
is a use of it."""
import os
import re
import sys

LAYERS = ["Values", "Policy", "Techniques", "Profiling", "SampleData", "Privacy", "Risk", "Linkage", "Pipeline"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "DeidKit")

declaration = re.compile(
    r"^(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate|open|final|indirect)\s+)*"
    r"(?:struct|class|enum|protocol|typealias|actor|func)\s+([A-Za-z_]\w*)", re.M)


def code_of(text):
    """The text with comments and string literals blanked, line breaks kept."""
    text = re.sub(r'"""[\s\S]*?"""', lambda m: "\n" * m.group(0).count("\n"), text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"/\*[\s\S]*?\*/", lambda m: "\n" * m.group(0).count("\n"), text)
    return re.sub(r"//[^\n]*", "", text)


files = {}
owner = {}
problems = []
for folder in sorted(os.listdir(ROOT)):
    path = os.path.join(ROOT, folder)
    if not os.path.isdir(path):
        continue
    if folder not in LAYERS:
        problems.append(f"Sources/DeidKit/{folder}: a folder that is not a layer in Scripts/check-folders.py")
        continue
    for directory, _, names in os.walk(path):
        for name in sorted(names):
            if name.endswith(".swift"):
                full = os.path.join(directory, name)
                code = code_of(open(full, encoding="utf-8").read())
                files[full] = (folder, code)
                for match in declaration.finditer(code):
                    owner.setdefault(match.group(1), folder)

for full, (folder, code) in sorted(files.items()):
    rank = LAYERS.index(folder)
    above = {name: other for name, other in owner.items() if LAYERS.index(other) > rank}
    if not above:
        continue
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, above), key=len, reverse=True)) + r")\b")
    for number, line in enumerate(code.split("\n"), 1):
        for match in pattern.finditer(line):
            # A member named like a type (`.init`, `x.Release`) is not a use of it.
            if match.start() > 0 and line[match.start() - 1] == ".":
                continue
            relative = os.path.relpath(full, os.path.join(ROOT, "..", ".."))
            problems.append(f"{relative}:{number}: {folder} uses {match.group(1)} of {above[match.group(1)]}, a layer above it")

for problem in problems:
    print(f"check-folders: {problem}", file=sys.stderr)
if problems:
    print(f"check-folders: {len(problems)} problems (layers, bottom first: {' < '.join(LAYERS)})", file=sys.stderr)
    sys.exit(1)
print(f"check-folders: DeidKit's folders use only the layers below them: {' < '.join(LAYERS)}")
