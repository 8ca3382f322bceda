"""Mock mode: the fake Discord, signed payloads, the simulator and `coach-plans send`.
Imported only by the entry points and the tests."""
