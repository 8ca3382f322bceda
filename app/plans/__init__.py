"""The rules of plans: what is valid, who may post, edit or delete, the levels a plan
states, and the daily quotas. Knows nothing of Discord or HTTP."""
