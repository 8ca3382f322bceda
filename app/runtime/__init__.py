"""The running service: its server and the front a woken server listens with, the
composition root that builds the resources (services), the Starlette app (web), and the
container of those resources that the edges read (resources)."""
