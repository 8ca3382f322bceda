"""Logs, metrics and the middleware that gives each request its id, counts it and
writes its access line."""
