"""kernels/ and datasets/ install as tinydl.kernels and tinydl.datasets; nothing else at top level."""
import importlib
import importlib.metadata as md
import os
import subprocess
import sys

editable = "--editable" in sys.argv
os.chdir(os.path.expanduser("~"))  # away from the checkout, so only the installed package is seen
for name in ("tinydl.kernels", "tinydl.datasets", "tinydl.kernels.cpu.dense"):
    importlib.import_module(name)
for name in ("kernels", "datasets"):
    found = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0
    if found:
        sys.exit(f"a top-level '{name}' module is importable: it would shadow the package of that name")
if not editable:
    files = md.files("tinydl") or []
    tops = sorted({f.parts[0] for f in files if not f.parts[0].endswith((".dist-info", ".egg-info"))
                   and f.parts[0] not in ("..", "bin")})
    if tops != ["tinydl"]:
        sys.exit(f"expected only tinydl at top level; installed {tops}")
print(f"layout ok ({'editable' if editable else 'regular'} install): tinydl.kernels, tinydl.datasets, nothing else at top level")
