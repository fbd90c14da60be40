"""The run: the only package that joins the stages, from a resolved config to a report.

``runner`` drives a run through one ``RunContext`` (``context``); ``target`` is the server
it talks to; ``feed`` hands the checked items the server lacks to the upload; ``progress``
shows it on a terminal; ``report`` is what a run did.
"""
