"""The version of osai-import, in a module of its own so every stage can read it cheaply."""

__version__ = "0.1.0"
