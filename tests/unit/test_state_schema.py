"""state.json's schema is defined once (state.FIELDS): every key the package reads or writes
is there, save() refuses one that is not, and nothing there is dead (written, never read)."""
import os
import re

import pytest

import pyrunc
from pyrunc import state
from pyrunc.errors import PyruncError

PACKAGE = os.path.dirname(os.path.abspath(pyrunc.__file__))
# st.data["key"], self.data.get("key"), st.data = {"key": ..., ...} and the like
_ACCESS = re.compile(r'\.data(?:\[|\.get\(|\.setdefault\(|\.pop\()\s*"([a-z_]+)"')
_LITERAL = re.compile(r'\.data = \{(?!\})(.*?)\}\n', re.S)  # not {}
_KEY = re.compile(r'"([a-z_]+)":')


def sources():
    for directory, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(directory, name)) as f:
                    yield name, f.read()


def keys_used():
    read, written = set(), set()
    for _name, text in sources():
        for line in text.splitlines():
            for key in _ACCESS.findall(line):
                (written if re.search(rf'\.data\["{key}"\]\s*=(?!=)', line) else read).add(key)
        for body in _LITERAL.findall(text):
            written.update(_KEY.findall(body))
    return read, written


def test_every_key_the_package_uses_is_in_the_schema():
    read, written = keys_used()
    assert written, "the scan found no state.json writes: the pattern is stale"
    assert (read | written) - state.FIELDS.keys() == set()


def test_no_key_of_the_schema_is_dead():
    read, written = keys_used()
    # oci_state() reads these through `d = self.data` (d.get("bundle"), ...)
    read |= {"bundle", "rootfs", "created", "owner", "annotations"}
    assert state.FIELDS.keys() - written == set(), "in the schema, never written"
    never_read = state.FIELDS.keys() - read - {"id", "restored_from"}  # for people reading it
    assert never_read == set(), "written, never read"


def test_save_refuses_a_key_outside_the_schema(tmp_path):
    st = state.ContainerState(str(tmp_path), "c1")
    st.make()
    try:
        st.data = {"id": "c1", "pid": 0}
        st.save()
        st.data["pdi"] = 1
        with pytest.raises(PyruncError, match=r"state.json: no field pdi \(state.FIELDS\)"):
            st.save()
        assert state.ContainerState(str(tmp_path), "c1").load().data == {"id": "c1", "pid": 0}
    finally:
        st.unlock()
