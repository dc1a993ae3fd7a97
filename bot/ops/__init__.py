"""Operations: the local HTTP endpoint (/healthz, /metrics), the state gauges and in-process alerts."""
