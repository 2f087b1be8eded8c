"""The running connector: composition of config, core decisions and host adapters."""
