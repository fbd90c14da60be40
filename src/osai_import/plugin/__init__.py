"""The plugin contract and its machinery; it imports no stage of a run.

``spec`` holds the hook specifications (the contract), ``base`` the classes plugins
subclass (``Reader``, ``Encoder``, their options), ``registry`` the name -> class
registries, ``loading`` finds and loads plugins, ``manager`` builds the typed facade
``Plugins`` that the rest of osai-import uses instead of calling ``pm.hook``.
"""
