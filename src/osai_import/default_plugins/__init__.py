"""Built-in readers and encoders, written exactly like third-party plugins."""
