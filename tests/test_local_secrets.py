"""The local stack's generated secrets (.sessionlake/secrets.env): concurrent starts agree on one value of
each secret, the file is never seen truncated, and it is created with mode 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sessionlake.core.spark import SECRET_CONFS

# Each child starts like a CLI process on the local stack, then prints the secrets it ended up with.
CHILD = """
import os, sys
from pathlib import Path
from sessionlake.core.local_env import prepare_local_env
from sessionlake.core.settings import Settings
from sessionlake.core.spark import SECRET_CONFS
prepare_local_env(Settings(home=Path(sys.argv[1])))
print(" ".join(f"{name}={os.environ[name]}" for name in sorted(SECRET_CONFS)))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_CONFS and not k.startswith("SESSIONLAKE_")}
    return env


def _start_many(home: Path, count: int) -> list[str]:
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(home)], env=_clean_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    outputs = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        outputs.append(out.strip())
    return outputs


def test_concurrent_starts_agree_on_one_secret_of_each_kind(tmp_path: Path) -> None:
    outputs = _start_many(tmp_path, 8)
    assert len(set(outputs)) == 1, "concurrent starts generated different secrets"
    path = tmp_path / "secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert sorted(stored) == sorted(SECRET_CONFS)
    assert outputs[0] == " ".join(f"{name}={stored[name]}" for name in sorted(stored))
    # later starts read the same values and do not rewrite the file
    before = path.stat().st_ino
    assert _start_many(tmp_path, 2) == outputs[:2]
    assert path.stat().st_ino == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_partly_written_file_is_completed_not_replaced(tmp_path: Path) -> None:
    names = sorted(SECRET_CONFS)
    (tmp_path / "secrets.env").write_text(f"{names[0]}=kept-value-0123456789\n")
    (out,) = _start_many(tmp_path, 1)
    assert f"{names[0]}=kept-value-0123456789" in out.split()
    stored = dict(line.split("=", 1) for line in (tmp_path / "secrets.env").read_text().splitlines())
    assert stored[names[0]] == "kept-value-0123456789" and len(stored[names[1]]) == 64
