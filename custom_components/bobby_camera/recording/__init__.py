"""Recording on the core's side: chunks in, clips out (docs/protocol.md, `chunk` and `chunk_ack`).

- `store`: the event folders under Home Assistant's media folder (blocking; executor only).
- `assemble`: an event's MPEG-TS chunks remuxed into one MP4 (PyAV; executor only).
- `retention`: which finished events to delete (pure).
- `manager`: the hub channel that receives chunks, acknowledges them once on disk, and
  assembles clips when events end; the one object the platforms ask about clips. It
  reaches the hub only through `HubLinks` (agents by key, signals, bus events, tasks).
- `http`: the authenticated view that serves clips and snapshots to browsers.
"""
