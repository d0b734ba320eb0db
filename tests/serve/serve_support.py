"""What the serving tests share besides fixtures (conftest modules cannot be imported by name
when several test folders are collected together)."""

KEY = "sk-test-key"
BODY_LIMIT = 2 * 1024 * 1024  # low, so that "too large" needs no 200 MB in memory
