"""The NATS JetStream relay: one session publishes, many processes subscribe (``upbit-stream relay``)."""
