"""Locust users that drive a lab through its connector (see locustfile.py)."""
