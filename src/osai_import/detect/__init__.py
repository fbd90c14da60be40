"""Which reader fits a path (`osai-import detect`), and a config written for it (`init`).

``verdicts`` asks every installed reader's ``detect`` about one path and ranks the
answers; ``writer`` turns the best one into a commented YAML config that runs as is on
the embedded local server.
"""
