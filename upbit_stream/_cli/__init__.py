"""The upbit-stream command line: arguments, terminal views, the recorder."""
