"""What an attachment is, judged by its bytes, not by its name or declared type (pure).

Only formats a receiving department can display safely are accepted: photos as JPEG, PNG or
WebP; ECGs as PDF (12-lead printouts from monitors), PNG or JPEG. The allow-list is the policy,
so it is four signatures here rather than a general file-type library.
"""

from __future__ import annotations

from enum import StrEnum

from emsync.handoffs.atmist import FieldProblem


class AttachmentKind(StrEnum):
    ECG = "ecg"
    PHOTO = "photo"


_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("application/pdf", b"%PDF-", 0),
    ("image/webp", b"WEBP", 8),  # RIFF....WEBP
)

ALLOWED: dict[AttachmentKind, frozenset[str]] = {
    AttachmentKind.PHOTO: frozenset({"image/jpeg", "image/png", "image/webp"}),
    AttachmentKind.ECG: frozenset({"application/pdf", "image/png", "image/jpeg"}),
}


def sniff(head: bytes) -> str | None:
    """The media type the leading bytes prove, or None."""
    for media_type, magic, offset in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (
            media_type != "image/webp" or head[:4] == b"RIFF"
        ):
            return media_type
    return None


def check_attachment(
    kind: AttachmentKind, content: bytes, *, declared: str | None, max_bytes: int
) -> str | FieldProblem:
    """The media type to store, or why the file is refused."""
    if not content:
        return FieldProblem("file", "the file is empty")
    if len(content) > max_bytes:
        return FieldProblem("file", f"the file is larger than the {max_bytes} byte limit")
    detected = sniff(content[:16])
    if detected is None:
        allowed = ", ".join(sorted(ALLOWED[kind]))
        return FieldProblem("file", f"the file is not a recognised {kind.value} format ({allowed})")
    if detected not in ALLOWED[kind]:
        return FieldProblem("file", f"a {kind.value} cannot be {detected}")
    declared_type = (declared or "").split(";")[0].strip().lower()
    if declared_type not in {"", "application/octet-stream", detected}:
        return FieldProblem(
            "file", f"the file is declared as {declared_type} but its content is {detected}"
        )
    return detected
