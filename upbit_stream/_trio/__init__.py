"""The trio shell: the session, the connection drivers, subscription channels."""
