"""The basemap archive over HTTP range requests (what a PMTiles reader asks for)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Response

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.basemap.service import BasemapService
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import RuntimeDep

__all__ = ["router"]

router = APIRouter(prefix="/api/map", tags=["map"])

_RANGE = re.compile(r"^bytes=(\d{1,15})-(\d{1,15})$")
MAX_RANGE = 4 << 20  # a PMTiles reader asks for a header, directories and single tiles


def _range(header: str, size: int) -> tuple[int, int]:
    match = _RANGE.match(header.strip())
    if match is None:
        raise ValidationFailed("Range must be one closed byte range: bytes=START-END")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise ValidationFailed("Range end is before its start")
    if end - start + 1 > MAX_RANGE:
        raise ValidationFailed(f"Range may span at most {MAX_RANGE} bytes")
    return start, min(end, size - 1)


@router.get(
    "/basemap.pmtiles",
    response_class=Response,
    responses={206: {"content": {"application/octet-stream": {}}}},
)
async def basemap(
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    range_header: Annotated[str, Header(alias="Range", max_length=64)],
) -> Response:
    """Bytes of the basemap (vector tiles of the loaded extract in one PMTiles archive)."""
    archive = await runtime.get(BasemapService).get()
    size = archive.path.stat().st_size
    start, end = _range(range_header, size)
    if start >= size:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    with archive.path.open("rb") as handle:
        handle.seek(start)
        body = handle.read(end - start + 1)
    return Response(
        content=body,
        status_code=206,
        media_type="application/octet-stream",
        headers={
            "Content-Range": f"bytes {start}-{end}/{size}",
            "Accept-Ranges": "bytes",
            "ETag": f'"{archive.path.stem}"',
            "Cache-Control": "private, max-age=3600",
        },
    )
