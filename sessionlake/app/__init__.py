"""The application: the `sessionlake` CLI, its commands and the one-pass pipeline, on top of the stages."""
