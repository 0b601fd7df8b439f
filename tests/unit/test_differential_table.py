"""The differential harness's pure logic: the table of known differences parses, its
conditions and matchers do what the table's comments say, and the stale-entry check."""
import pytest

from differential import harness


def test_the_table_is_well_formed():
    table = harness.Table()
    ids = [e["id"] for e in table.entries]
    assert len(ids) == len(set(ids))
    for e in table.entries:
        assert e["reason"] in harness.REASONS
        assert e["match"]["kind"] in ("outcome", "step", "state", "exit", "stderr", "probe")
        if "applies" in e:
            harness.applies(e["applies"], {})  # evaluates on any config


@pytest.mark.parametrize("condition,config,expected", [
    ({"path": "linux.namespaces[*].type", "equals": "time"},
     {"linux": {"namespaces": [{"type": "pid"}, {"type": "time"}]}}, True),
    ({"path": "linux.namespaces[*].type", "equals": "time"},
     {"linux": {"namespaces": [{"type": "pid"}]}}, False),
    ({"path": "process.capabilities.*[*]", "type": "null"},
     {"process": {"capabilities": {"bounding": ["CAP_KILL", None]}}}, True),
    ({"path": "mounts[*]", "fields": {"type": {"equals": "tmpfs"}, "options": {"contains": "ro"}}},
     {"mounts": [{"type": "tmpfs", "options": ["rw"]}, {"type": "bind", "options": ["ro"]}]},
     False),
    ({"path": "linux.devices[*]", "fields": {"path": {"equals": "/dev/null"},
                                             "fileMode": {"absent": True}}},
     {"linux": {"devices": [{"path": "/dev/null", "type": "c"}]}}, True),
    ({"path": "linux.cgroupsPath", "absent": True}, {"linux": {}}, True),
    ({"all": [{"path": "domainname", "type": "str", "nonempty": True},
              {"not": {"path": "hostname", "equals": "x"}}]}, {"domainname": "d"}, True),
    ({"path": "domainname", "type": "str", "nonempty": True}, {"domainname": ""}, False),
])
def test_conditions(condition, config, expected):
    assert harness.applies(condition, config) is expected


def test_an_entry_explains_only_where_it_applies_and_stale_entries_are_found(tmp_path):
    path = tmp_path / "table.yaml"
    path.write_text("""
- id: dom
  reason: runc-lacks
  why: test
  applies: {path: domainname, type: str, nonempty: true}
  match: {kind: probe, key: '^domainname$', runc: '^\\(none\\)$'}
- id: never
  reason: cosmetic
  why: test
  applies: {path: hostname, equals: h}
  match: {kind: probe, key: '^hostname$'}
""")
    table = harness.Table(str(path))
    diff = {"kind": "probe", "key": "domainname", "runc": "(none)", "pyrunc": "d"}
    table.explain({"domainname": "d"}, [diff], both_ran=True, both_refused=False)
    assert diff["explained"] == "dom"
    other = {"kind": "probe", "key": "domainname", "runc": "(none)", "pyrunc": "d"}
    table.explain({}, [other], both_ran=True, both_refused=False)
    assert other["explained"] is None          # the entry does not apply to that config
    assert table.stale() == []                 # "never" never applied: it could not match
    table.explain({"hostname": "h"}, [], both_ran=True, both_refused=False)
    assert table.stale() == ["never"]          # it applied to a run config and matched nothing


def test_state_and_probe_normalisation(tmp_path):
    class Run:
        cid = "pyrunc-diff-x-runc"
        bundle = str(tmp_path)
    state = harness.normalise_state(
        '{"ociVersion": "1.0.2", "id": "pyrunc-diff-x-runc", "status": "created", "pid": 42,'
        f' "bundle": "{tmp_path}", "rootfs": "/r", "created": "now", "owner": ""}}', Run)
    assert state == {"ociVersion": "1.0.2", "id": "<id>", "status": "created", "pid": "<pid>",
                     "bundle": "<bundle>", "annotations": None}
    host_net = harness.host_namespaces()["net"]
    lines = harness.probe_lines(f"ns.net: {host_net}\nns.uts: uts:[1]\n"
                                f"mount /: {tmp_path}/rootfs ro - ext4 /dev/x rw\n"
                                "status.Uid: 0\t0\t0\t0\n", Run)
    assert lines == {"ns.net": ["host"], "ns.uts": ["new"],
                     "mount /": ["<bundle>/rootfs ro - ext4 /dev/x rw"],
                     "status.Uid": ["0 0 0 0"]}
