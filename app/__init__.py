"""Coach Plans: a Discord interactions service for trading coaches' daily plans."""

__version__ = "0.1.0"
