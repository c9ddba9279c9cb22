"""Event recording: pre-roll ring, encoders, chunks, on-disk spool, delivery to the core."""
