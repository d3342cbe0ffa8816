"""sessionlake: platform glue (settings, Spark session, local stack, generator, CLI)."""
