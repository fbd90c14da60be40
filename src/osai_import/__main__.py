"""Allow ``python -m osai_import``."""

from osai_import.cli import main

if __name__ == "__main__":
    main()
