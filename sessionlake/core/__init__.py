"""The foundation every stage imports: settings, the Spark session, dbt invocation, errors, the domain contract."""
