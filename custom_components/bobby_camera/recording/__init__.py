"""Recording on the core's side: chunks in, clips out (docs/protocol.md, `chunk` and `chunk_ack`).

- `manager`: `Recordings`, the hub channel that receives chunks and acknowledges them once
  on disk; the one object the platforms ask about clips.
- `index`: the known events and what the parts share; the hub is reached only through
  `HubLinks` (agents by key, signals, bus events, tasks).
- `assembly`: when an event ends (its last chunk, or cut short), its clip, `clip_ready`.
- `retention`: which finished events to delete (a pure rule) and the cleanup that applies it.
- `disk`: the clip storage repair issue.
- `store`: the event folders under Home Assistant's media folder (blocking; executor only).
- `assemble`: an event's MPEG-TS chunks remuxed into one MP4 (PyAV; executor only).
- `http`: the authenticated view that serves clips and snapshots to browsers.
"""
