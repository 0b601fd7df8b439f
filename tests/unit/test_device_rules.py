"""Device rules: runc's default allow-list, the effective list of a config, the v1 model and
the devices.allow/devices.deny writes that reach its state."""
import pytest

from pyrunc.cgroups.device_rules import (ACC_ALL, ACC_MKNOD, ACC_READ, ACC_WRITE,
                                         DEFAULT_ALLOWED, DENY_ALL, DeviceTable, Rule,
                                         effective_rules, v1_writes)
from pyrunc.errors import ConfigError


def lines(rules):
    return [(r.allow, r.type, r.major, r.minor, r.access) for r in rules]


def test_default_allow_list_is_runcs():
    assert lines(DEFAULT_ALLOWED) == [
        (True, "c", None, None, ACC_MKNOD), (True, "b", None, None, ACC_MKNOD),
        (True, "c", 1, 3, ACC_ALL), (True, "c", 1, 8, ACC_ALL), (True, "c", 1, 7, ACC_ALL),
        (True, "c", 5, 0, ACC_ALL), (True, "c", 1, 5, ACC_ALL), (True, "c", 1, 9, ACC_ALL),
        (True, "c", 136, None, ACC_ALL), (True, "c", 5, 2, ACC_ALL),
        (True, "c", 10, 200, ACC_ALL)]


def test_effective_rules_order():
    config = [{"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"}]
    rules = effective_rules(config)
    assert rules[0] == DENY_ALL
    assert lines(rules[1:2]) == [(True, "b", 8, 0, ACC_READ)]
    assert rules[1].origin == "linux.resources.devices[0]"
    assert rules[2:] == list(DEFAULT_ALLOWED)


def test_effective_rules_without_config():
    assert effective_rules(None) == [DENY_ALL, *DEFAULT_ALLOWED]


def test_config_cannot_take_defaults_away():
    # a config denying /dev/null comes before the defaults, which allow it again (as runc)
    rules = effective_rules([{"allow": False, "type": "c", "major": 1, "minor": 3,
                              "access": "rwm"}])
    assert DeviceTable(rules).allows("c", 1, 3, ACC_READ | ACC_WRITE)


def test_default_with_a_node_in_linux_devices_is_left_out():
    rules = effective_rules([], linux_devices=[{"path": "/dev/null", "type": "c", "major": 1,
                                                "minor": 3}])
    table = DeviceTable(rules)
    assert not table.allows("c", 1, 3, ACC_READ)
    assert table.allows("c", 1, 5, ACC_READ)
    assert len(rules) == 1 + len(DEFAULT_ALLOWED) - 1


def test_effective_rules_refuses_a_bad_type():
    with pytest.raises(ConfigError, match=r"linux\.resources\.devices\[1\]\.type: must be"):
        effective_rules([{"allow": False, "access": "rwm"},
                         {"allow": True, "type": "u", "access": "rw"}])


def test_model_whitelist_exact_key_removal():
    table = DeviceTable([DENY_ALL, Rule(True, "c", 1, 3, ACC_ALL),
                         Rule(False, "c", 1, 3, ACC_WRITE)])
    assert table.exceptions == {("c", 1, 3): ACC_READ | ACC_MKNOD}
    assert table.allows("c", 1, 3, ACC_READ)
    assert not table.allows("c", 1, 3, ACC_READ | ACC_WRITE)


def test_model_allow_merges_bits():
    table = DeviceTable([Rule(True, "b", 8, None, ACC_READ), Rule(True, "b", 8, None, ACC_WRITE)])
    assert table.allows("b", 8, 3, ACC_READ | ACC_WRITE)


def test_deny_inside_a_wildcard_allow_is_refused():
    with pytest.raises(ConfigError) as info:
        DeviceTable.from_rules([{"allow": True, "type": "c", "access": "rw"},
                                {"allow": False, "type": "c", "major": 1, "minor": 3,
                                 "access": "w"}])
    assert info.value.field == "linux.resources.devices[1]"
    assert "'deny c 1:3 w' cannot follow 'allow c *:* rw'" in info.value.reason


def test_deny_disjoint_from_a_wildcard_allow_is_fine():
    table = DeviceTable.from_rules([{"allow": True, "type": "c", "access": "m"},
                                    {"allow": False, "type": "c", "major": 1, "minor": 3,
                                     "access": "w"}])
    assert table.allows("c", 1, 3, ACC_MKNOD)


def test_wider_deny_leaves_a_narrower_allow():
    # as on v1 and in runc: the deny removes bits from the exception c 1:* only
    table = DeviceTable.from_rules([{"allow": False, "access": "rwm"},
                                    {"allow": True, "type": "c", "major": 1, "minor": 3,
                                     "access": "rw"},
                                    {"allow": False, "type": "c", "major": 1, "access": "w"}])
    assert table.allows("c", 1, 3, ACC_WRITE)


def test_allow_inside_a_wildcard_deny_is_refused():
    with pytest.raises(ConfigError, match=r"devices\[2\]"):
        DeviceTable.from_rules([{"allow": True, "access": "rwm"},
                                {"allow": False, "type": "b", "major": 8, "access": "rw"},
                                {"allow": True, "type": "b", "major": 8, "minor": 0,
                                 "access": "r"}])


def test_v1_writes_from_scratch():
    writes = v1_writes(effective_rules([{"allow": True, "type": "b", "major": 8, "minor": 0,
                                         "access": "rw"}]))
    assert writes[0] == ("devices.deny", "a")
    assert set(writes[1:]) == {
        ("devices.allow", "c *:* m"), ("devices.allow", "b *:* m"),
        ("devices.allow", "b 8:0 rw"), ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "c 1:5 rwm"), ("devices.allow", "c 1:7 rwm"),
        ("devices.allow", "c 1:8 rwm"), ("devices.allow", "c 1:9 rwm"),
        ("devices.allow", "c 5:0 rwm"), ("devices.allow", "c 5:2 rwm"),
        ("devices.allow", "c 136:* rwm"), ("devices.allow", "c 10:200 rwm")}
    assert len(writes) == 13


def test_v1_writes_allow_all_then_deny():
    writes = v1_writes([{"allow": True, "access": "rwm"},
                        {"allow": False, "type": "b", "major": 8, "access": "w"}])
    assert writes == [("devices.allow", "a"), ("devices.deny", "b 8:* w")]


def test_v1_update_writes_only_the_difference_loosening_first():
    before = effective_rules([{"allow": True, "type": "b", "major": 8, "minor": 0,
                               "access": "rw"}])
    after = effective_rules([{"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"},
                             {"allow": True, "type": "b", "major": 8, "minor": 16,
                              "access": "r"}])
    assert v1_writes(after, current=before) == [("devices.allow", "b 8:16 r"),
                                                 ("devices.deny", "b 8:0 w")]


def test_v1_update_in_allow_mode_removes_denies_first():
    before = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1,
                                                 "minor": 3, "access": "rw"}]
    after = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1,
                                                "minor": 5, "access": "w"}]
    assert v1_writes(after, current=before) == [("devices.allow", "c 1:3 rw"),
                                                 ("devices.deny", "c 1:5 w")]


def test_v1_update_changing_the_default_resets():
    before = effective_rules([])
    after = [{"allow": True, "access": "rwm"}]
    assert v1_writes(after, current=before) == [("devices.allow", "a")]
    assert v1_writes(before, current=after)[0] == ("devices.deny", "a")


def test_v1_update_with_no_change_writes_nothing():
    rules = effective_rules([])
    assert v1_writes(rules, current=rules) == []


def test_rule_text():
    assert str(Rule(True, "c", 136, None, ACC_ALL)) == "allow c 136:* rwm"
    assert str(Rule(False, "a", None, None, ACC_READ)) == "deny a"
