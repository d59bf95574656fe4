"""Use cases: what the API, the workers and the CLI ask of the system. Each is a plain function or class."""
