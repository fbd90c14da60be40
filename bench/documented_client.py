"""Run OSAI's documented example client, unmodified, against a server.

As ``../shared/reference/README.md`` says: import the file as a module from its path,
set its ``OSAI_URL`` and ``API_TOKEN`` globals, chdir into a folder holding ``zdj/``,
call ``main()``. Run by upload_throughput.py in a child process:

    python bench/documented_client.py CLIENT_PY URL TOKEN FOLDER

The client prints each answer (``<Response [200]>``); this script prints nothing more.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def main() -> None:
    """Load the client from its path, point it at the server, run it in FOLDER."""
    client_path, url, token, folder = sys.argv[1:5]
    spec = importlib.util.spec_from_file_location("osai_example_client", client_path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {client_path} as a module")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    # The client reads these module globals on every call (its README's way to point it).
    setattr(client, "OSAI_URL", url)  # noqa: B010
    setattr(client, "API_TOKEN", token)  # noqa: B010
    os.chdir(folder)
    client.main()


if __name__ == "__main__":
    main()
