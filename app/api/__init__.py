"""The HTTP API: routes, request parsing, errors, middleware."""
