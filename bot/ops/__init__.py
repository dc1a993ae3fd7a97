"""Operations: the local HTTP endpoint for health (and, later, metrics)."""
