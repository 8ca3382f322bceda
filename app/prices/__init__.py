"""Prices: intraday bars from one source behind one interface, and the market's sessions."""
