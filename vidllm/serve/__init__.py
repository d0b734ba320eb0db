"""Serving: vidllm's models behind an OpenAI-compatible HTTP API, with video input."""
