"""JSON for the hot path without `import json`.

The json package imports `re` (and with it enum) to build a pure-Python scanner it only uses
when the C accelerator is missing; together they cost ~10 ms of every `pyrunc create`. The C
scanner and encoder in _json need neither, so loads()/dumps() call them directly and fall back
to the json package where _json is unavailable or for pretty output.
"""
try:
    import _json
except ImportError:  # pragma: no cover - every CPython build has it
    _json = None


class _ScannerContext:
    """The attributes json's C scanner reads from its JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__
    memo = None


_scanner = _json.make_scanner(_ScannerContext()) if _json else None
_encoder = (_json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",",
                               False, False, True) if _json else None)
_WHITESPACE = " \t\n\r"


def loads(data):
    """Parse a JSON document (str or bytes); raises ValueError on malformed input."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode()  # not "utf-8-sig": that codec's import alone costs ~2 ms
    data = data.lstrip("\ufeff")
    if _scanner is None:
        import json
        return json.loads(data)
    start = len(data) - len(data.lstrip(_WHITESPACE))
    try:
        value, end = _scanner(data, start)
    except Exception:  # noqa: BLE001 - malformed input: let the json package say what is wrong
        value, end = None, -1
    if end < 0 or data[end:].strip(_WHITESPACE):
        import json
        return json.loads(data)  # raises json's ValueError with line and column
    return value


def dumps(value, indent=None):
    """Serialise compactly (or with indent, through the json package)."""
    if indent is not None or _encoder is None:
        import json
        return json.dumps(value, indent=indent)
    return "".join(_encoder(value, 0))
