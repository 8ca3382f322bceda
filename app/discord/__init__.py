"""Discord's side of the service: reading interactions, building answers within Discord's limits,
and editing a deferred answer through Discord's webhook API."""
