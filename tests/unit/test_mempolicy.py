"""linux.memoryPolicy checked and encoded for set_mempolicy(2) (pyrunc/mempolicy.py): modes,
flags, node lists, the nodes online on the host; every refusal names its field."""
import pytest

from pyrunc import mempolicy
from pyrunc.errors import ConfigError

ONE_NODE = {0}


def test_encoding_of_mode_flags_and_nodes():
    assert mempolicy.encode({"mode": "MPOL_BIND", "nodes": "0-2,5"}) == (2, [0b100111],
                                                                        [0, 1, 2, 5])
    value, words, _ = mempolicy.encode({"mode": "MPOL_INTERLEAVE", "nodes": "1,64",
                                        "flags": ["MPOL_F_STATIC_NODES"]})
    assert value == 3 | 1 << 15 and words == [0b10, 0b1]
    assert mempolicy.encode({"mode": "MPOL_DEFAULT"}) == (0, [], [])
    assert mempolicy.encode({"mode": "MPOL_LOCAL", "nodes": ""}) == (4, [], [])
    assert mempolicy.encode({"mode": "MPOL_PREFERRED"}) == (1, [], [])  # local allocation


@pytest.mark.parametrize("policy, field, reason", [
    ({"mode": "MPOL_BOGUS", "nodes": "0"}, "linux.memoryPolicy.mode", "unknown mode"),
    ({"nodes": "0"}, "linux.memoryPolicy.mode", "unknown mode"),
    ({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes", "needs at least one node"),
    ({"mode": "MPOL_DEFAULT", "nodes": "0"}, "linux.memoryPolicy.nodes", "takes no nodes"),
    ({"mode": "MPOL_BIND", "nodes": "0-x"}, "linux.memoryPolicy.nodes", "not a node list"),
    ({"mode": "MPOL_BIND", "nodes": "3-1"}, "linux.memoryPolicy.nodes", "not a node range"),
    ({"mode": "MPOL_BIND", "nodes": 0}, "linux.memoryPolicy.nodes", "must be a string"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_BOGUS"]},
     "linux.memoryPolicy.flags[0]", "unknown flag"),
    ({"mode": "MPOL_BIND", "nodes": "0",
      "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]},
     "linux.memoryPolicy.flags", "exclude each other"),
    ({"mode": "MPOL_BIND", "nodes": "0,3"}, "linux.memoryPolicy.nodes",
     "node 3 is not online on this host (online: 0)"),
    ("bind", "linux.memoryPolicy", "must be an object"),
])
def test_refusals_name_the_field(policy, field, reason):
    with pytest.raises(ConfigError) as e:
        mempolicy.validate(policy, online=ONE_NODE)
    assert e.value.field == field and reason in e.value.reason, str(e.value)


def test_relative_nodes_are_not_checked_against_the_hosts():
    mempolicy.validate({"mode": "MPOL_BIND", "nodes": "3", "flags": ["MPOL_F_RELATIVE_NODES"]},
                       online=ONE_NODE)


def test_online_nodes_of_the_host_file(tmp_path):
    path = tmp_path / "online"
    path.write_text("0-1,4\n")
    assert mempolicy.online_nodes(str(path)) == {0, 1, 4}
    assert mempolicy.online_nodes(str(tmp_path / "none")) is None
