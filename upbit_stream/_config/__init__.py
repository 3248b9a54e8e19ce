"""Settings, their fields and file, secrets and JWT signing."""
