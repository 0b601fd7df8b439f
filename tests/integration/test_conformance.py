"""The OCI runtime-tools validation suite against the installed pyrunc, checked against the
table of expected results (tests/conformance/expected-host.yaml) by scripts/conformance: a
program that should pass and fails, or one that passes while the table says it fails, fails
this test; so does a container, mount or cgroup the suite's programs leave behind."""
import os
import subprocess
import sys

import yaml

from conftest import PYRUNC

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(REPO, "tests", "conformance", "expected-host.yaml")


def test_table_names_every_program_once_with_a_reason():
    table = yaml.safe_load(open(TABLE))
    assert len(table) == 58
    for name, entry in table.items():
        assert entry["expect"] in ("pass", "fail"), name
        if entry["expect"] == "fail":
            assert entry["kind"] in ("no-tap", "test-bug", "spec-vs-test", "host"), name
            assert len(entry["why"]) > 20, name


def test_validation_suite_matches_the_table(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "conformance"),
                             "--pyrunc", PYRUNC, "--out", str(tmp_path), "--table", TABLE],
                            capture_output=True, text=True, timeout=1800)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "conformance: pyrunc" in result.stdout
