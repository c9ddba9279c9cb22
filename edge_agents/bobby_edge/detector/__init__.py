"""The person detector: model families, JPEG decoding, the analysis pipeline and the agent.

`pipeline.Pipeline` is the hot path without MQTT (what `bench/` measures);
`agent.DetectorAgent` feeds it from a shared MQTT subscription.
"""
