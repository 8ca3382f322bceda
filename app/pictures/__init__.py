"""Pictures of graded plans: a plan's levels over the session that followed, and the coaches'
cumulative R. matplotlib loads with the first picture, never on the start path."""
