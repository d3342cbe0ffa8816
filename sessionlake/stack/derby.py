"""The metastore: a Derby network server holding the Hive metastore database that every Spark JVM shares."""

from __future__ import annotations

from sessionlake.core.settings import Settings
from sessionlake.stack.component import Component, Launch, Port
from sessionlake.stack.jvm import jar_classpath, java_bin
from sessionlake.stack.process import port_open


class Derby(Component):
    name = "metastore"
    start_timeout = 60.0

    def ports(self, settings: Settings) -> list[Port]:
        return [Port(settings.ports.derby, "Derby network server", "SESSIONLAKE_DERBY_PORT")]

    def endpoint(self, settings: Settings) -> str:
        return settings.metastore_url

    def prepare(self, settings: Settings) -> Launch:
        classpath = jar_classpath(settings.jars_dir / "derby", self.name, "derbynet")
        home = self.workdir(settings)
        home.mkdir(parents=True, exist_ok=True)
        return Launch(
            argv=[
                java_bin(self.name),
                "-Xmx256m",
                *settings.spark.java_option_list,
                f"-Dderby.system.home={home}",
                "-Dderby.stream.error.file=" + str(home / "derby.log"),
                "-cp",
                classpath,
                "org.apache.derby.drda.NetworkServerControl",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(settings.ports.derby),
                "-noSecurityManager",
            ],
            cwd=home,
        )

    def healthy(self, settings: Settings) -> bool:
        return port_open(settings.ports.derby)

    def provision(self, settings: Settings) -> None:
        """Nothing to create: Spark creates the metastore schema (datanucleus autoCreateAll) on first use."""
