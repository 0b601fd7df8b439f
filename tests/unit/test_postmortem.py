"""The ring of post-mortems (pyrunc/postmortem.py) without root: bounded by count and size,
found by id, never a container, and the step of a failure turned into its config field."""
import errno

import pytest

from pyrunc import postmortem, state
from pyrunc.errors import ConfigError, InitError, InvalidIdError, PyruncError


def test_the_ring_is_not_a_container(tmp_path):
    with pytest.raises(InvalidIdError):
        state.validate_id(postmortem.DIR_NAME)
    (tmp_path / "real").mkdir()
    postmortem.record(str(tmp_path), "create", "gone", PyruncError("boom"))
    assert (tmp_path / postmortem.DIR_NAME).is_dir()
    assert state.list_ids(str(tmp_path)) == ["real"]


def test_a_record_holds_step_errno_field_message_and_checkpoints(tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(f'{{"n": {i}}}\n' for i in range(50)))
    exc = InitError("executable", "exec '/nope': no such file", errno.ENOENT)
    postmortem.record(str(tmp_path), "create", "c1", exc, ["state-dir", "forked"], str(trace),
                      "container init failed at executable: exec '/nope': no such file")
    [pm] = postmortem.for_id(str(tmp_path), "c1")
    assert pm["verb"] == "create" and pm["step"] == "executable"
    assert pm["errno"] == errno.ENOENT and pm["field"] == "process.args"
    assert pm["checkpoints"] == ["state-dir", "forked"]
    assert pm["message"].startswith("container init failed at executable")
    assert pm["trace"] == [f'{{"n": {i}}}' for i in range(50 - postmortem.TRACE_LINES, 50)]


def test_a_config_error_keeps_its_field(tmp_path):
    postmortem.record(str(tmp_path), "create", "c2", ConfigError("linux.sysctl.x", "bad"))
    [pm] = postmortem.for_id(str(tmp_path), "c2")
    assert (pm["step"], pm["field"]) == ("validating the config", "linux.sysctl.x")


@pytest.mark.parametrize("step, field", [
    ("sysctl net.ipv4.ip_forward", "linux.sysctl.net.ipv4.ip_forward"),
    ("joining the network namespace", "linux.namespaces.network.path"),
    ("mounting the rootfs", "mounts"), ("cwd", "process.cwd"),
    ("createContainer hooks", "hooks.createContainer"), ("reporting ready", None)])
def test_field_of_step(step, field):
    assert postmortem.field_of_step(step) == field


def test_the_ring_keeps_the_last_records(tmp_path):
    for i in range(postmortem.MAX_RECORDS + 8):
        postmortem.record(str(tmp_path), "create", f"c{i}", PyruncError(f"failure {i}"))
    ring = sorted((tmp_path / postmortem.DIR_NAME).iterdir())
    assert len(ring) == postmortem.MAX_RECORDS
    assert postmortem.for_id(str(tmp_path), "c7") == []
    assert postmortem.for_id(str(tmp_path), "c8")[0]["message"] == "failure 8"


def test_the_ring_has_a_size_cap(tmp_path):
    for i in range(20):
        postmortem.record(str(tmp_path), "create", "big", PyruncError("x" * 100000))
    ring = list((tmp_path / postmortem.DIR_NAME).iterdir())
    assert sum(p.stat().st_size for p in ring) <= postmortem.MAX_BYTES
    assert ring and all(p.stat().st_size < postmortem.MAX_TEXT + 1000 for p in ring)


def test_newest_first_and_only_that_id(tmp_path):
    for i in range(3):
        postmortem.record(str(tmp_path), "start", "a", PyruncError(f"a{i}"))
        postmortem.record(str(tmp_path), "start", "ab", PyruncError(f"ab{i}"))
    assert [pm["message"] for pm in postmortem.for_id(str(tmp_path), "a")] == ["a2", "a1", "a0"]


def test_a_ring_that_cannot_be_written_loses_the_record_quietly(tmp_path):
    (tmp_path / "root").write_text("not a directory")
    assert postmortem.record(str(tmp_path / "root"), "create", "c", PyruncError("x")) is None


def test_a_ring_that_is_a_symlink_is_not_followed(tmp_path):
    """Somebody's symlink in place of the ring: nothing is written there, nothing pruned."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for i in range(postmortem.MAX_RECORDS + 3):
        (elsewhere / f"{i:020d}-1-x.json").write_text("{}")
    root = tmp_path / "root"
    root.mkdir()
    (root / postmortem.DIR_NAME).symlink_to(elsewhere)
    assert postmortem.record(str(root), "create", "c", PyruncError("x")) is None
    assert len(list(elsewhere.iterdir())) == postmortem.MAX_RECORDS + 3
    assert postmortem.for_id(str(root), "x") == []


def test_only_records_are_pruned(tmp_path):
    postmortem.record(str(tmp_path), "create", "c", PyruncError("x"))
    other = tmp_path / postmortem.DIR_NAME / "notes.txt"
    other.write_text("not a record")
    for i in range(postmortem.MAX_RECORDS + 2):
        postmortem.record(str(tmp_path), "create", f"c{i}", PyruncError("x"))
    assert other.exists()


def test_a_wrapped_error_is_described_by_its_cause(tmp_path):
    from pyrunc.errors import ExecFailedError
    try:
        try:
            raise InitError("executable", "exec '/x': no such file", errno.ENOENT)
        except InitError as e:
            raise ExecFailedError(str(e)) from e
    except ExecFailedError as wrapped:
        postmortem.record(str(tmp_path), "exec", "c", wrapped)
    [pm] = postmortem.for_id(str(tmp_path), "c")
    assert (pm["step"], pm["errno"], pm["field"]) == ("executable", errno.ENOENT, "process.args")
    assert pm["message"].startswith("exec failed: container init failed at executable")
