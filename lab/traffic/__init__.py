"""Traffic for the lab: packet factories, matchers, senders and flood engines."""
