"""The pure core: events, codec, specs, demand, the endpoint protocol, policies; no trio, no I/O."""
