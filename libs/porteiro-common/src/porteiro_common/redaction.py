"""Personal data (names, transcripts, destinations) in spans and logs (LGPD)."""

from __future__ import annotations

REDACTED = "[redacted]"


class Redactor:
    """Returns values unchanged only when personal data may be recorded."""

    def __init__(self, show_personal_data: bool = False) -> None:
        self.show_personal_data = show_personal_data

    def __call__(self, value: str | None) -> str:
        if value is None or value == "":
            return ""
        return value if self.show_personal_data else REDACTED
