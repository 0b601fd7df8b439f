"""Fuzzing the config parser: whatever the input, validation accepts it or raises ConfigError
naming a JSON path; never another exception."""
import copy
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from pyrunc import config, jsonio
from pyrunc.errors import ConfigError
from pyrunc.spec import default_spec

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def paths(obj, prefix=()):
    """Every (path) into a nested config: dict keys and list indexes."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


BASE = default_spec()
BASE["process"]["terminal"] = False
ALL_PATHS = [p for p in paths(BASE) if p]


def set_path(obj, path, value):
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def check(cfg, bundle):
    try:
        config.validate(cfg, str(bundle))
    except ConfigError as e:
        text = str(e)
        assert text.startswith("config: ") and "\n" not in text
        assert e.field and e.reason


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(ALL_PATHS), JSON_VALUES)
def test_any_value_anywhere(tmp_path, path, value):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    cfg = copy.deepcopy(BASE)
    set_path(cfg, path, value)
    check(cfg, tmp_path)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["ociVersion", "root", "process", "mounts", "linux",
                                        "hooks", "hostname", "annotations", "domainname"]),
                       JSON_VALUES, max_size=6))
def test_any_top_level_shape(tmp_path, cfg):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    check(cfg, tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_as_config_json(data):
    try:
        value = jsonio.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return
    assert value == json.loads(data.decode("utf-8", errors="replace").lstrip("\ufeff"))
