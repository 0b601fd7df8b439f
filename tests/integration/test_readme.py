"""The README's promises: its Python API example runs as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(tmp_path):
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    result = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)  # the installed pyrunc, not ./pyrunc
    assert result.returncode == 0, result.stderr
    assert "hello from a pyrunc container" in result.stdout
    # The example's state root is left empty (as runc leaves its root); the test removes it.
    for root in re.findall(r'root="(/run/[^"]+)"', blocks[0]):
        os.rmdir(root)  # fails if the example left a container in it


def test_readme_starts_with_the_two_setup_commands():
    lines = README.read_text().splitlines()
    block = lines[lines.index("```sh") + 1: lines.index("```")]
    assert len(block) == 2
    assert "scripts/install" in block[0] and "pyrunc run --builtin" in block[0]
    assert "scripts/install" in block[1] and "scripts/test" in block[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/install && scripts/test" in ci


def test_readme_shows_the_engine_snippets_the_tests_use():
    """Every file under scripts/engines (the daemons of the engine tests start from them)
    appears whole in the README, so the documented configuration cannot drift from the
    tested one."""
    text = README.read_text()
    snippets = sorted((README.parent / "scripts" / "engines").iterdir())
    assert len(snippets) == 4, snippets
    for path in snippets:
        assert path.read_text().rstrip("\n") + "\n```" in text, f"{path.name} not in README"
