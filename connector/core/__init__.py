"""Pure decision core of the connector: values in, decisions out, no I/O."""
