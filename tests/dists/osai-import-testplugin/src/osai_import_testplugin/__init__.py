"""A third-party osai-import plugin, as a separate distribution would write it."""

from __future__ import annotations

from collections.abc import Iterator

from osai_import import (
    Annotation,
    Encoder,
    ImageRecord,
    PluginOptions,
    Reader,
    ReaderOptions,
    SourceError,
    hookimpl,
)

__version__ = "1.2.3"


class ListFileReader(Reader):
    """Read a text file listing one `image-path label` pair per line."""

    name = "listfile"

    class Options(ReaderOptions):
        separator: str = " "

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per non-empty line, in file order."""
        options = self.options
        assert isinstance(options, ListFileReader.Options)
        try:
            lines = options.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SourceError(f"{options.path}: cannot read the list: {exc.strerror}") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            image, _, label = line.partition(options.separator)
            path = options.path.parent / image
            yield ImageRecord(key=f"{number}:{image}", path=path, name=path.name,
                              category=label.strip() or None)


class LabelTextEncoder(Encoder):
    """Write the image-level label as a one-line text annotation."""

    name = "labeltxt"

    class Options(PluginOptions):
        annotation_type: int = 7

    def encode(self, record: ImageRecord) -> Annotation | None:
        """Return the label as UTF-8 text, or None when the record has none."""
        options = self.options
        assert isinstance(options, LabelTextEncoder.Options)
        if record.category is None:
            return None
        return Annotation(options.annotation_type, record.category.encode("utf-8"))


@hookimpl
def register_readers(register):  # type: ignore[no-untyped-def]
    register(ListFileReader)


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    register(LabelTextEncoder)
