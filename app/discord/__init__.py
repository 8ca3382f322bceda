"""Discord's side of the service: protocol numbers and limits (protocol), reading interactions
(interaction), answers (responses, plan_messages; Components V2 messages and their uploads in
components), REST calls (rest), and for mock mode and tests, Discord-shaped payloads (payloads),
a fake Discord (fake, fake_parts) and the reading of multipart messages (multipart)."""
