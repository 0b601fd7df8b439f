"""Human-friendly numbers on the command line: byte sizes ("512m", "1g", "-1") as runc's update
flags take them, and Go-style durations ("5s", "250ms") as runc's events --interval does."""
from pyrunc.errors import UsageError

_BYTE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
               "p": 1 << 50}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}


def parse_bytes(text, flag):
    """'1048576', '512k', '64m', '1.5g', '2GiB' or '-1' (unlimited), in bytes (binary units,
    as Docker's RAMInBytes)."""
    value = text.strip().lower()
    if value == "-1":
        return -1
    unit = value.lstrip("0123456789.")
    number = value[:len(value) - len(unit)]
    unit = unit.removesuffix("ib").removesuffix("b") if unit not in ("b",) else unit
    if not number or unit not in _BYTE_UNITS:
        raise UsageError(f"{flag}: {text!r} is not a size (a number with k, m, g or t, or -1)")
    try:
        return int(float(number) * _BYTE_UNITS[unit])
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a size") from None


def parse_duration(text, flag):
    """'5s', '100ms', '1m30s' or a bare number of seconds, in seconds."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    total, rest = 0.0, value
    while rest:
        number = ""
        while rest and (rest[0].isdigit() or rest[0] == "."):
            number, rest = number + rest[0], rest[1:]
        unit = next((u for u in sorted(_DURATION_UNITS, key=len, reverse=True)
                     if rest.startswith(u)), None)
        if not number or unit is None:
            raise UsageError(f"{flag}: {text!r} is not a duration (like 5s or 250ms)")
        total += float(number) * _DURATION_UNITS[unit]
        rest = rest[len(unit):]
    if total <= 0:
        raise UsageError(f"{flag}: {text!r} must be positive")
    return total
