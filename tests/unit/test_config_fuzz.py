"""Fuzzing the config parser: whatever the input, validation accepts it or raises ConfigError
naming a JSON path; never another exception."""
import copy
import json

from hypothesis import HealthCheck, given, settings, strategies as st

# The generator lives in tests/fuzzing/configgen.py: the differential harness draws from it too.
from fuzzing.configgen import ALL_PATHS, BASE, JSON_VALUES, PLAUSIBLE, apply_edits, set_path
from pyrunc import config, jsonio
from pyrunc.errors import ConfigError


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


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(PLAUSIBLE, min_size=1, max_size=3))
def test_plausible_edits(tmp_path, edits):
    """The differential harness's plausible edits: accepted or refused by name, never a crash."""
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    check(apply_edits(copy.deepcopy(BASE), edits), tmp_path)
