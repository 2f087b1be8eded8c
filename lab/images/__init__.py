"""The docker lab's images, built from local material only (see build.py)."""
