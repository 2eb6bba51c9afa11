"""The console's storage: the SQLAlchemy models, the Alembic migrations and the repository functions."""
