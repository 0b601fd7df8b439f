"""Typed reads of linux.resources values: each returns the value or None when unset, and raises
ConfigError naming the field when it has the wrong type or range. Shared by every controller."""
from pyrunc.errors import ConfigError

UNLIMITED = -1


def section(resources, name, kind=dict):
    value = resources.get(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ConfigError(f"linux.resources.{name}", f"must be {_kind_name(kind)}")
    return value


def integer(obj, key, field, minimum=None, maximum=None, unlimited=False, zero_unset=False):
    """An integer; -1 passes as 'unlimited' where the field allows it, and 0 reads as unset
    where runc reads it so (engines send 0 for "leave as is", Docker's update above all)."""
    value = obj.get(key)
    if value is None or (zero_unset and value == 0):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer, not {value!r}")
    if unlimited and value == UNLIMITED:
        return value
    if minimum is not None and value < minimum:
        raise ConfigError(field, f"{value} is below the minimum {minimum}"
                          + (" (-1 means unlimited)" if unlimited else ""))
    if maximum is not None and value > maximum:
        raise ConfigError(field, f"{value} is above the maximum {maximum}")
    return value


def boolean(obj, key, field):
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(field, f"must be true or false, not {value!r}")
    return value


def string(obj, key, field):
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(field, f"must be a string, not {value!r}")
    return value


def items(obj, key, field):
    """A list of objects (weightDevice, throttle lists, hugepageLimits...)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(field, "must be a list of objects")
    return value


def limit_text(value, v2):
    """A byte or count limit as cgroup files take it: -1 is 'max' on v2 and '-1' on v1."""
    if value == UNLIMITED:
        return "max" if v2 else "-1"
    return str(value)


def _kind_name(kind):
    return {dict: "an object", list: "a list"}.get(kind, kind.__name__)
