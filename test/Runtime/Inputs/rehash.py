"""Recomputes manifest.json's file_sha256 after a test edited a bundle, as a
deliberate tamperer would, so that the checks behind the hashes are reached.

    rehash.py BUNDLE_DIR
"""
import hashlib
import json
import sys

bundle = sys.argv[1]
with open(f"{bundle}/manifest.json") as f:
    manifest = json.load(f)
for name in manifest["file_sha256"]:
    with open(f"{bundle}/{name}", "rb") as f:
        manifest["file_sha256"][name] = hashlib.sha256(f.read()).hexdigest()
with open(f"{bundle}/manifest.json", "w") as f:
    json.dump(manifest, f)
