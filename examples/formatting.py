"""Human-readable sizes and durations shared by the example servers."""

from __future__ import annotations

UNITS = ("B", "KB", "MB", "GB", "TB")


def size_human(num_bytes: int | float | None) -> str | None:
    """1023 -> '1023 B', 1536 -> '1.5 KB', 5_000_000 -> '4.77 MB' (binary multiples)."""
    if num_bytes is None:
        return None
    value, unit = float(num_bytes), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.2f}".rstrip("0").rstrip(".") + f" {UNITS[unit]}"


def duration_human(seconds: int | float | None) -> str | None:
    """93784 -> '1d 2h 3m'; under a minute -> '42s'."""
    if seconds is None:
        return None
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if not (days or hours or minutes):
        return f"{secs}s"
    parts = [f"{days}d" if days else "", f"{hours}h" if days or hours else "", f"{minutes}m"]
    return " ".join(p for p in parts if p)
