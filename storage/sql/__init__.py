"""The SQL tier: models, migrations, engine and repositories (the source of truth)."""
