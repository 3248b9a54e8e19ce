"""The WebSocket edge: one module per WebSocket library, behind the connector seam."""
