"""The LSM code path against a fake /proc: this host has neither AppArmor nor SELinux, so the
writes are checked here and the refusal in test_config."""
import pytest

from pyrunc import config, lsm
from pyrunc.errors import ConfigError
from pyrunc.spec import default_spec


class FakeProcfs:
    """What lsm writes /proc through (pyrunc.procfs's write and exists), over a directory."""

    def __init__(self, root):
        self.root = root

    def exists(self, path):
        return (self.root / path).exists()

    def write(self, path, text):
        (self.root / path).write_text(text)


@pytest.fixture
def fake_proc(tmp_path):
    attr = tmp_path / "self" / "attr"
    (attr / "apparmor").mkdir(parents=True)
    (attr / "apparmor" / "exec").write_text("")
    (attr / "exec").write_text("")
    return tmp_path


def test_apparmor_profile_written_to_its_own_attr_file(fake_proc):
    lsm.exec_attributes({"apparmorProfile": "docker-default"}, proc=FakeProcfs(fake_proc))
    assert (fake_proc / "self/attr/apparmor/exec").read_text() == "exec docker-default"


def test_apparmor_falls_back_to_the_shared_attr_file(fake_proc):
    (fake_proc / "self/attr/apparmor/exec").unlink()
    (fake_proc / "self/attr/apparmor").rmdir()
    lsm.exec_attributes({"apparmorProfile": "p"}, proc=FakeProcfs(fake_proc))
    assert (fake_proc / "self/attr/exec").read_text() == "exec p"


def test_selinux_label_written(fake_proc):
    lsm.exec_attributes({"selinuxLabel": "system_u:system_r:container_t:s0"},
                        proc=FakeProcfs(fake_proc))
    assert (fake_proc / "self/attr/exec").read_text() == "system_u:system_r:container_t:s0"


def test_mount_label_added_to_mount_data():
    assert lsm.mount_data("mode=755", "system_u:object_r:c:s0", "tmpfs") == \
        'mode=755,context="system_u:object_r:c:s0"'
    assert lsm.mount_data("", "l", "tmpfs") == 'context="l"'
    assert lsm.mount_data("x", "l", "proc") == "x"
    assert lsm.mount_data("x", "", "tmpfs") == "x"


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["process"].update(apparmorProfile="p"), "process.apparmorProfile"),
    (lambda c: c["process"].update(selinuxLabel="l"), "process.selinuxLabel"),
    (lambda c: c["linux"].update(mountLabel="l"), "linux.mountLabel"),
])
def test_lsm_requested_on_a_host_without_it_is_refused(tmp_path, edit, field):
    import os
    if os.path.exists("/sys/kernel/security/apparmor") or os.path.exists("/sys/fs/selinux"):
        pytest.skip("this host has an LSM enabled")
    (tmp_path / "rootfs").mkdir()
    cfg = default_spec()
    edit(cfg)
    with pytest.raises(ConfigError) as info:
        config.validate(cfg, str(tmp_path))
    assert info.value.field == field and "not enabled" in info.value.reason
