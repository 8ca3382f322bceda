"""Discord's side of the service: protocol numbers and limits (protocol), reading interactions
(interaction), answers (responses, plan_messages), REST calls (rest), and for mock mode and tests,
Discord-shaped payloads (payloads) and a fake Discord (fake)."""
