#!/usr/bin/env python3
"""Size of a bundle's multifunction Core ML package as a function of how many functions it holds.

For k = 1..N it saves a package with the first k functions of the bundle's ``.mlpackage``
(``coremltools.utils.save_multifunction``, which stores identical weights once) and prints its weight-file and
total sizes, plus every float tensor type of its functions. This is what can be measured without Apple hardware:
the bytes on disk and in the app. What a loaded function costs in memory on a phone cannot be measured here
(see ios_demo/README.md, "Memory on a phone").

    python ios_demo/Scripts/measure_coreml_package.py BUNDLE_DIR [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(bundle_dir: Path) -> dict:
    import coremltools as ct

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    target = manifest.get("targets", {}).get("coreml")
    if not target:
        raise SystemExit(f"{bundle_dir}: no Core ML target; export with `lazydit export --targets coreml`")
    package = bundle_dir / target["package"]
    functions = list(target["functions"].values())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(1, len(functions) + 1):
            desc = ct.utils.MultiFunctionDescriptor()
            for name in functions[:k]:
                desc.add_function(str(package), src_function_name=name, target_function_name=name)
            desc.default_function_name = functions[0]
            out = Path(tmp) / f"k{k}.mlpackage"
            ct.utils.save_multifunction(desc, str(out))
            weights = sum(f.stat().st_size for f in out.rglob("weights/*") if f.is_file())
            rows.append(
                {
                    "functions": k,
                    "names": functions[:k],
                    "package_bytes": folder_bytes(out),
                    "weight_bytes": weights,
                    "program_bytes": folder_bytes(out) - weights,
                }
            )
    return {
        "bundle": manifest.get("name", bundle_dir.name),
        "parameters": manifest["model"]["parameters"],
        "shipped_package_bytes": folder_bytes(package),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", type=Path)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    result = measure(args.bundle)
    shipped = result["shipped_package_bytes"]
    print(f"{result['bundle']}: {result['parameters']:,} parameters, shipped package {shipped:,} bytes")
    print(f"{'functions':>9} {'package bytes':>14} {'weights':>12} {'programs':>10}")
    for r in result["rows"]:
        print(f"{r['functions']:>9} {r['package_bytes']:>14,} {r['weight_bytes']:>12,} {r['program_bytes']:>10,}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
