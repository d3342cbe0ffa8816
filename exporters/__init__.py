"""Search exporter: Delta Change Data Feed of `gold.sessions` -> Elasticsearch / OpenSearch."""
