"""Discord's interactions endpoint: the signature check, cheap refusals, parsing and
dispatch to the commands."""
