"""Retry policies for the hook tests: fast backoff so retry tests take milliseconds."""

from __future__ import annotations

from woohub.http import RetryPolicy

FAST_RETRIES = RetryPolicy(max_attempts=4, max_retry_seconds=10, backoff_initial_seconds=0.01,
                           backoff_max_seconds=0.05, backoff_jitter_seconds=0.0)
FAULT_RETRIES = RetryPolicy(max_attempts=10, max_retry_seconds=30, backoff_initial_seconds=0.01,
                            backoff_max_seconds=0.1, backoff_jitter_seconds=0.01)
