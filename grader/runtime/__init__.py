"""The check runtime: values on the wire, probes beside student code, subjects that checks ask."""
