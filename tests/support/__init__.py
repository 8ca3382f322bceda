"""Helpers the tests share: fakes at the edge, servers and processes they start, corpora."""
