"""Geocoding benchmark: accuracy on corrupted queries and per-keystroke latency, beside a
substring-search baseline (what `ILIKE '%q%'` over names finds) on the same queries, same run.

    .venv/bin/python bench/geocode.py [--map PATH ...] [--per-kind 200] [--seed 42]

Without --map, every `*.osm.pbf` in ../shared/data/osm/ is measured; one JSON line per map
(the same report as `emsync map geocode-eval`), plus the accuracy ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emsync.geocoding.cli import evaluate_map  # noqa: E402

DEFAULT_DIR = Path(os.environ.get("EMSYNC_SHARED_DATA", ROOT.parent / "shared" / "data")) / "osm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--map", type=Path, action="append", default=None)
    parser.add_argument("--per-kind", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    maps = args.map or sorted(DEFAULT_DIR.glob("*.osm.pbf"))
    for pbf in maps:
        with tempfile.TemporaryDirectory() as cache:
            report = evaluate_map(
                pbf, Path(cache), per_kind=args.per_kind, seed=args.seed, keystrokes=True
            )
        ours = report["geocoder"]
        base = report["baseline_substring"]
        assert isinstance(ours, dict)
        assert isinstance(base, dict)
        report["top1_vs_baseline"] = round(ours["top1"] / max(base["top1"], 1e-9), 2)
        report["load_avg"] = round(os.getloadavg()[0], 2)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
