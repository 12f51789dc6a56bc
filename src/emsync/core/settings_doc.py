"""The settings table of the README, generated from the Settings model so it cannot drift."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from emsync.core.settings import Settings


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined or info.default is None:
        return "—"
    if isinstance(info.default, SecretStr):
        return "(secret)"
    if isinstance(info.default, BaseModel):
        return ""
    text = str(info.default)
    return f"`{text}`" if text else "—"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{prefix}{name.upper()}__"))
            continue
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(info)} | {description} |")
    return rows


def settings_table() -> str:
    header = "| variable | default | meaning |\n|---|---|---|"
    return "\n".join([header, *_rows(Settings, "EMSYNC_")])
