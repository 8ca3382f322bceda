"""Storage: SQLModel tables, the engine with its connection settings, and Alembic migrations."""
