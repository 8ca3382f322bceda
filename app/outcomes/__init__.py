"""Outcomes: what the market did with each plan (the rules), and the job that grades them."""
