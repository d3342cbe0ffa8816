"""Finding Java and the Maven-resolved artifacts the JVM components run from."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sessionlake.core.settings import env
from sessionlake.stack.process import StackError


def java_home(component: str) -> Path:
    """JAVA_HOME if it holds a java, else the JDK of the `java` on PATH."""
    env_home = env("JAVA_HOME")
    if env_home and (Path(env_home) / "bin" / "java").is_file():
        return Path(env_home)
    found = shutil.which("java")
    if not found:
        raise StackError(
            f"{component}: no `java` found (neither $JAVA_HOME/bin/java nor java on PATH); install a JDK 17"
        )
    return Path(found).resolve().parent.parent


def java_bin(component: str) -> str:
    return str(java_home(component) / "bin" / "java")


def jar_classpath(jars_dir: Path, component: str, marker: str) -> str:
    """The classpath of every jar in jars_dir, after checking that the jar named marker-*.jar is there."""
    jars = sorted(jars_dir.glob("*.jar"))
    if not any(j.name.startswith(marker) for j in jars):
        raise StackError(f"{component}: no {marker} jars in {jars_dir}: run `make jars` (Maven resolves them once)")
    return os.pathsep.join(str(j) for j in jars)
