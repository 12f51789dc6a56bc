"""Building the app imports no library that only a later step needs.

`import emsync.bootstrap` ran in every server, worker, CLI command and test process and imported
xgboost and scikit-learn (the triage models), pandas and splink (record linkage), the FHIR R4B
models, the basemap builder and more: ~6.4 s of CPU at machine load ~6, where the app itself
needs none of them until a model is loaded, a match is scored, a bundle is exported or a map is
built. These run a fresh interpreter and list the modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Top-level modules imported where first used: the module that imports each.
DEFERRED = {
    "xgboost": "triage.registry (a model's first load)",
    "sklearn": "triage.registry (xgboost imports it)",
    "pandas": "registry.linkage",
    "splink": "registry.linkage",
    "duckdb": "registry.linkage (splink's backend)",
    "fhir": "handoffs.export, registry.fhir_service",
    "mapbox_vector_tile": "basemap.store (an archive's build)",
    "shapely": "basemap.store (an archive's build)",
    "icalendar": "intake.records.calendar",
    "amqtt": "telemetry.broker (the embedded broker's start)",
    "scipy.optimize": "routing.calibration",
}

PROBE = """
import json, sys
from pathlib import Path
from emsync.bootstrap import create_app
from tests.conftest import make_settings
deferred = sys.argv[1].split(",")
data = Path(sys.argv[2])
create_app(make_settings(f"sqlite+aiosqlite:///{data / 'emsync.db'}", data))
loaded = sorted(d for d in deferred if any(m == d or m.startswith(d + ".") for m in sys.modules))
print(json.dumps(loaded))
"""


def test_building_the_app_imports_no_deferred_library(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(DEFERRED), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == []
