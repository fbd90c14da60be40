"""Opening what a reader reads: paths kept inside a source, the safe Pascal VOC parser,
VOC files parsed ahead in a helper process, and the source's record streams.

Plugins reach these through the public API (``osai_import``), never by this path.
"""
