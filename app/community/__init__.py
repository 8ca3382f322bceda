"""A community's own setup of Coach Plans: each guild's coach roster bound to its members and
roles, its time zone, ping role and read key (roster.py: the rules; service.py: reading and
changing them)."""
