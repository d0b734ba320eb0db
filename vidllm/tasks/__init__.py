"""What users ask for: ask, describe, ... Each task is built on the shared path."""
