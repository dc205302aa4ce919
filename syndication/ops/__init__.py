"""Operations: Prometheus metrics (/metrics), readiness (/ready), the job processes'
heartbeat, and the one logging setup."""
