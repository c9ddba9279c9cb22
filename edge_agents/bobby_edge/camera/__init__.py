"""The camera agent: frames from a source (PiCamera, images, video, HTTP) to MQTT."""
