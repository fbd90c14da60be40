"""The config stage: a YAML file in, a validated ``ResolvedConfig`` out, before any network call.

``file`` reads the YAML safely and fills ``${VAR}``; ``models`` are the sections;
``messages`` turns validation errors into one line each; ``resolve`` validates the
reader's and encoder's own options against the registered plugins; ``schema`` writes the
JSON Schema for editors.
"""
