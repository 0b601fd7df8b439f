"""The OCI runtime-tools validation suite against the installed pyrunc, checked against the
table of expected results (tests/conformance/expected-host.yaml) by scripts/conformance: a
program that should pass and fails, or one that passes while the table says it fails, fails
this test; so does a container, mount or cgroup the suite's programs leave behind."""
import os
import subprocess
import sys

import pytest
import yaml

from conftest import PYRUNC

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(REPO, "tests", "conformance", "expected-host.yaml")
# In the cgroup-v2 guest (scripts/vm-v2, PYRUNC_IN_VM=1) the changes of expected-v2.yaml apply.
RUN_TABLE = TABLE if os.environ.get("PYRUNC_IN_VM") != "1" else os.path.join(
    REPO, "tests", "conformance", "expected-v2.yaml")


def test_table_names_every_program_once_with_a_reason():
    table = yaml.safe_load(open(TABLE))
    assert len(table) == 58
    for name, entry in table.items():
        assert entry["expect"] in ("pass", "fail", "race"), name
        if entry["expect"] != "pass":
            assert entry["kind"] in ("no-tap", "test-bug", "spec-vs-test", "host"), name
            assert len(entry["why"]) > 20, name


@pytest.mark.cgroup  # also run in the cgroup-v2 guest, against expected-v2.yaml
def test_validation_suite_matches_the_table(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "conformance"),
                             "--pyrunc", PYRUNC, "--out", str(tmp_path), "--table", RUN_TABLE],
                            capture_output=True, text=True, timeout=1800)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "conformance: pyrunc" in result.stdout
