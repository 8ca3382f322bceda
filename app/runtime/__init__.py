"""The running service: its server and the front a woken server listens with, the
composition root that builds the resources, the Starlette app."""
