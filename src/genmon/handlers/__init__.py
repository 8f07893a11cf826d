"""Handler contracts and sinks."""
