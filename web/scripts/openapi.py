"""Write the API's OpenAPI schema to web/openapi.json: the contract the TypeScript types come from."""

import json
import os
import sys
import tempfile
from pathlib import Path

# Building the app only to read its routes: no database is opened, secrets go to a temp dir.
os.environ["EMSYNC_ENV"] = "development"
os.environ["EMSYNC_DATA_DIR"] = tempfile.mkdtemp(prefix="emsync-openapi-")
os.environ["EMSYNC_DATABASE__URL"] = "sqlite+aiosqlite:///:memory:"

from emsync.bootstrap import create_app  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "openapi.json")
text = json.dumps(create_app().openapi(), indent=1, sort_keys=True)
if not out.exists() or out.read_text() != text:  # unchanged: keep the mtime, skip the rebuild
    out.write_text(text)
