"""Perception: tools that turn frames and audio into time-stamped text observations."""
