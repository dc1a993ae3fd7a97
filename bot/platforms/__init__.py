"""Platform adapters: the only code (with cogs' cog.py) that imports discord."""
